"""Plugin (namespace ``localstack.lambda.runtime_executor``) for the ``process`` Lambda runtime executor.

Selected with LAMBDA_RUNTIME_EXECUTOR=process. LocalStack silently falls back to ``docker`` for unknown names
(it only logs 'Invalid specified plugin name'), so the executor logs a line when it starts an environment.
"""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class ProcessRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "process"

    def load(self, *args, **kwargs):
        from riv_localstack.lambda_process import ProcessRuntimeExecutor

        return ProcessRuntimeExecutor
