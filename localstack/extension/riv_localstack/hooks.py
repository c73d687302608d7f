"""LocalStack runtime hooks (namespace ``localstack.hooks.on_infra_start``) registered by Riv.

``riv_lambda_environment_snapshots``: LocalStack 4.14's Lambda AssignmentService looks for an idle execution
environment by iterating the function's live environment map while other invocations add theirs to it. A burst of
cold starts (the e2e suite's 50 concurrent auths) then fails an invocation with "RuntimeError: dictionary changed
size during iteration", which Step Functions reports as a plain ``Exception`` that no Retry matches. The maps now
hand out a snapshot when iterated; reserving an environment is already guarded by the environment itself.

``riv_dynamodb_table_pitr``: LocalStack 4.14's CloudFormation provider for AWS::DynamoDB::Table accepts
PointInTimeRecoverySpecification but never applies it. When DynamoDB is served by ``dynamodb:moto``, this wraps the
provider's create/update so the table's continuous backups match the template (moto implements
UpdateContinuousBackups), as on AWS.

``riv_states_wait_until_the_instant``: LocalStack 4.14's Wait state with ``Timestamp``/``TimestampPath`` waits
``int(timestamp - now)`` whole seconds, measured against the host's local time: up to a second short of the
instant, by an amount that depends on when the wait began. Step Functions waits until the timestamp (to the
second). Riv's denial floor (a Wait until the denial is due) needs that: otherwise the answer's time again
depends on how much work came before. The wait now sleeps the fraction first, then the whole seconds as before,
against UTC.
"""

import logging

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


def _as_bool(value) -> bool:
    return value is True or str(value).lower() == "true"


@hooks.on_infra_start()
def riv_dynamodb_table_pitr():
    from localstack import config

    if config.SERVICE_PROVIDER_CONFIG.get_provider("dynamodb") != "moto":
        return

    from localstack.services.cloudformation.resource_provider import OperationStatus
    from localstack.services.dynamodb.resource_providers.aws_dynamodb_table import (
        DynamoDBTableProvider,
    )
    from localstack.utils.patch import patch

    def apply_pitr(fn, self, request, *, on_update: bool):
        event = fn(self, request)
        model = event.resource_model or {}
        if event.status != OperationStatus.SUCCESS or not model.get("TableName"):
            return event
        spec = model.get("PointInTimeRecoverySpecification")
        if spec is None and not on_update:
            return event
        enabled = _as_bool((spec or {}).get("PointInTimeRecoveryEnabled"))
        request.aws_client_factory.dynamodb.update_continuous_backups(
            TableName=model["TableName"],
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled},
        )
        return event

    @patch(DynamoDBTableProvider.create)
    def _create(fn, self, request):
        return apply_pitr(fn, self, request, on_update=False)

    @patch(DynamoDBTableProvider.update)
    def _update(fn, self, request):
        return apply_pitr(fn, self, request, on_update=True)

    LOG.info("riv: AWS::DynamoDB::Table applies PointInTimeRecoverySpecification")


class _SnapshotDict(dict):
    """A dict whose ``values()`` is a list taken now, safe to iterate while other threads add or remove keys."""

    def values(self):
        return list(super().values())


@hooks.on_infra_start()
def riv_lambda_environment_snapshots():
    from collections import defaultdict

    from localstack.services.lambda_.invocation.assignment import AssignmentService
    from localstack.utils.patch import patch

    @patch(AssignmentService.__init__)
    def _init(fn, self, *args, **kwargs):
        fn(self, *args, **kwargs)
        self.environments = defaultdict(_SnapshotDict, self.environments)

    LOG.info("riv: Lambda environment maps iterate over snapshots")


@hooks.on_infra_start()
def riv_states_wait_until_the_instant():
    import datetime

    from localstack.services.stepfunctions.asl.component.state.state_wait.wait_function.timestamp import (
        Timestamp,
    )
    from localstack.utils.patch import patch

    @patch(Timestamp._get_wait_seconds)
    def _get_wait_seconds(fn, self, env):
        # The original evaluates the path again (a read) and fails on a bad timestamp exactly as before.
        whole = fn(self, env)
        self.string.eval(env=env)
        due = Timestamp._from_timestamp_string(timestamp=env.stack.pop())
        if due is None:
            return whole
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        left = (due - now).total_seconds()
        if left <= 0:
            return 0
        fraction = left - int(left)
        if fraction > 0:
            env.program_state_event.wait(fraction)
        return int(left)

    LOG.info("riv: Step Functions Wait states wait until their timestamp")
