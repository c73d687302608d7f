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

``riv_apigateway_gateway_responses``: LocalStack 4.14 applies a REST API's GatewayResponse status code but answers
with its own ``{"message": ...}`` body, ignoring the response's templates and parameters; it also leaves
``$context.error.validationErrorString`` empty. So a body that fails the route's request model got
``{"message": "Invalid request body"}`` instead of the ``{"Reason": "InvalidRequest", ...}`` Riv's template
defines. A configured gateway response (for its type, or the DEFAULT_4XX/DEFAULT_5XX it falls back to) now
answers with its template, filled by simple variable substitution as API Gateway does (these templates do not go
through Velocity), its ``gatewayresponse.header.*`` parameters, and the model's validation errors.

``riv_states_execution_input_limit``: Step Functions refuses an execution input over 262,144 bytes of UTF-8 (the
``SensitiveData`` shape of StartExecution/StartSyncExecution's ``input``) with a ValidationException, before
anything runs. LocalStack 4.14 starts the execution anyway, so a request too big for AWS succeeded locally.

``riv_logs_kms_keys``: CloudWatch Logs encrypts a log group with a customer key named at creation or later with
AssociateKmsKey. LocalStack 4.14's CloudFormation provider for AWS::Logs::LogGroup drops ``KmsKeyId``, and its
Logs service (moto) has no AssociateKmsKey, so a stack deployed with ``KmsKey`` set had its log groups unencrypted
and nothing could say otherwise. AssociateKmsKey and DisassociateKmsKey now set the group's key (DescribeLogGroups
reports it, as on AWS), and the CloudFormation provider applies ``KmsKeyId`` once it has made the group.
"""

import json
import logging
import re

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


# API Gateway substitutes these in a gateway response template; anything else is left as written.
_TEMPLATE_VARIABLE = re.compile(r"\$(context|stageVariables)((?:\.[A-Za-z0-9_]+)+)")


def _lookup(scope, path: str):
    value = scope
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _validation_errors(method, rest_api, request) -> str:
    """The body's schema violations, the way API Gateway fills ``$context.error.validationErrorString``:
    ``[first, second]``, escaped to sit inside a JSON string."""
    from jsonschema.validators import validator_for
    from localstack.constants import APPLICATION_JSON
    from localstack.services.apigateway.helpers import EMPTY_MODEL, ModelResolver

    models = method.get("requestModels") or {}
    name = models.get(APPLICATION_JSON, models.get("$default", EMPTY_MODEL))
    schema = ModelResolver(rest_api_container=rest_api, model_name=name).get_resolved_model()
    try:
        instance = json.loads(request.get("body") or "{}")
    except ValueError as error:
        found = [f"Invalid JSON: {error}"]
    else:
        errors = validator_for(schema or {})(schema or {}).iter_errors(instance)
        found = []
        for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
            where = "/" + "/".join(map(str, error.absolute_path))
            # The messages quote the offending value; a 6 MiB image must not come back in the answer.
            text = error.message if len(error.message) <= 200 else f"fails {error.validator} {error.validator_value}"
            found.append(f"{where}: {text}" if error.absolute_path else text)
    return json.dumps("[" + ", ".join(found) + "]")[1:-1]


@hooks.on_infra_start()
def riv_apigateway_gateway_responses():
    from localstack.services.apigateway.next_gen.execute_api.gateway_response import (
        DEFAULT_GATEWAY_RESPONSES,
        BadRequestBodyError,
        get_gateway_response_or_default,
    )
    from localstack.services.apigateway.next_gen.execute_api.handlers.gateway_exception import (
        GatewayExceptionHandler,
    )
    from localstack.services.apigateway.next_gen.execute_api.handlers.method_request import (
        MethodRequestHandler,
    )
    from localstack.utils.patch import patch

    @patch(MethodRequestHandler.validate_request)
    def _validate_request(fn, self, method, rest_api, request):
        try:
            return fn(self, method, rest_api, request)
        except BadRequestBodyError as error:
            error.riv_validation_errors = _validation_errors(method, rest_api, request)
            raise

    @patch(GatewayExceptionHandler.create_exception_response)
    def _create_exception_response(fn, self, exception, context):
        response = fn(self, exception, context)
        configured = context.deployment.rest_api.gateway_responses if context.deployment else {}
        gateway_response = get_gateway_response_or_default(exception.type, configured or {})
        if gateway_response is DEFAULT_GATEWAY_RESPONSES.get(exception.type):
            return response  # nothing configured: LocalStack's body is API Gateway's default one
        message = exception.message or ""
        scopes = {
            "context": {
                **(context.context_variables or {}),
                "error": {
                    "message": message,
                    "messageString": json.dumps(message),
                    "responseType": str(exception.type),
                    "validationErrorString": getattr(exception, "riv_validation_errors", ""),
                },
            },
            "stageVariables": context.stage_variables or {},
        }
        templates = gateway_response.get("responseTemplates") or {}
        content_type = "application/json" if "application/json" in templates else next(iter(templates), None)
        if content_type is not None:
            body = _TEMPLATE_VARIABLE.sub(
                lambda m: _lookup(scopes[m[1]], m[2][1:]), templates[content_type]
            )
            response.set_data(body)
            response.headers["Content-Type"] = content_type
        request = context.invocation_request or {}
        sources = {
            "method.request.header.": request.get("headers") or {},
            "method.request.querystring.": request.get("query_string_parameters") or {},
            "method.request.path.": request.get("path_parameters") or {},
            "stageVariables.": context.stage_variables or {},
        }
        for target, source in (gateway_response.get("responseParameters") or {}).items():
            if not target.startswith("gatewayresponse.header."):
                continue
            if len(source) >= 2 and source[0] == source[-1] == "'":
                value = source[1:-1]
            elif source.startswith("context."):
                value = _lookup(scopes["context"], source.removeprefix("context."))
            else:
                prefix = next((p for p in sources if source.startswith(p)), None)
                value = sources[prefix].get(source.removeprefix(prefix)) if prefix else None
            if value:
                response.headers[target.removeprefix("gatewayresponse.header.")] = value
        return response

    LOG.info("riv: API Gateway answers with the REST API's gateway responses")


# The `max` of botocore's stepfunctions `SensitiveData` shape; Step Functions counts UTF-8 bytes.
MAX_EXECUTION_INPUT_BYTES = 262144


@hooks.on_infra_start()
def riv_states_execution_input_limit():
    from localstack.aws.api.stepfunctions import ValidationException
    from localstack.services.stepfunctions.provider import StepFunctionsProvider
    from localstack.utils.patch import patch

    def refuse_oversized(args, kwargs):
        # (state_machine_arn, name, input, ...) when the dispatcher passes them by position.
        data = kwargs.get("input", args[2] if len(args) > 2 else None)
        if data is not None and len(data.encode("utf-8")) > MAX_EXECUTION_INPUT_BYTES:
            raise ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_EXECUTION_INPUT_BYTES}"
            )

    @patch(StepFunctionsProvider.start_execution)
    def _start_execution(fn, self, context, *args, **kwargs):
        refuse_oversized(args, kwargs)
        return fn(self, context, *args, **kwargs)

    @patch(StepFunctionsProvider.start_sync_execution)
    def _start_sync_execution(fn, self, context, *args, **kwargs):
        refuse_oversized(args, kwargs)
        return fn(self, context, *args, **kwargs)

    LOG.info("riv: Step Functions refuses execution input over %d bytes", MAX_EXECUTION_INPUT_BYTES)


@hooks.on_infra_start()
def riv_logs_kms_keys():
    from localstack.services.cloudformation.resource_provider import OperationStatus
    from localstack.services.logs.resource_providers.aws_logs_loggroup import LogsLogGroupProvider
    from localstack.utils.patch import patch
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    def set_key(response, key):
        group = response.logs_backend.groups.get(response._get_param("logGroupName"))
        if group is None:
            raise ResourceNotFoundException()
        group.kms_key_id = key
        return ""

    LogsResponse.associate_kms_key = lambda self: set_key(self, self._get_param("kmsKeyId"))
    LogsResponse.disassociate_kms_key = lambda self: set_key(self, None)

    @patch(LogsLogGroupProvider.create)
    def _create(fn, self, request):
        event = fn(self, request)
        model = event.resource_model or {}
        if event.status == OperationStatus.SUCCESS and model.get("KmsKeyId"):
            request.aws_client_factory.logs.associate_kms_key(
                logGroupName=model["LogGroupName"], kmsKeyId=model["KmsKeyId"]
            )
        return event

    LOG.info("riv: log groups take a customer key (AssociateKmsKey, AWS::Logs::LogGroup KmsKeyId)")
