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
