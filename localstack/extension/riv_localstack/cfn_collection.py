"""CloudFormation resource provider for ``AWS::Rekognition::Collection`` (properties CollectionId, Tags).

Without it LocalStack 4.14 silently "deploys" the type as a mock (CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES defaults
to true) and no collection exists. Create/delete call Rekognition through LocalStack's internal client, which
reaches the Riv emulator via the ``rekognition:riv`` forwarding provider. ``Ref`` is the CollectionId (the primary
identifier), ``Fn::GetAtt <res>.Arn`` the collection ARN.
"""

from localstack.services.cloudformation.resource_provider import (
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

TYPE_NAME = "AWS::Rekognition::Collection"

SCHEMA = {
    "typeName": TYPE_NAME,
    "description": "A Rekognition face collection (Riv: served by the Riv emulator).",
    "properties": {
        "Arn": {"type": "string"},
        "CollectionId": {"type": "string", "pattern": "\\A[a-zA-Z0-9_\\.\\-]+$", "maxLength": 255},
        "Tags": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"Key": {"type": "string"}, "Value": {"type": "string"}},
                "required": ["Key", "Value"],
            },
        },
    },
    "required": ["CollectionId"],
    "createOnlyProperties": ["/properties/CollectionId"],
    "readOnlyProperties": ["/properties/Arn"],
    "primaryIdentifier": ["/properties/CollectionId"],
}


def _tags_as_map(tags) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags or []}


def _collection_arn(request: ResourceRequest, collection_id: str) -> str:
    return f"arn:aws:rekognition:{request.region_name}:{request.account_id}:collection/{collection_id}"


def _normalized_arn(arn: str | None) -> str | None:
    # CreateCollection answers "aws:rekognition:..." (no "arn:" prefix, as on AWS); GetAtt Arn is a full ARN
    if arn and not arn.startswith("arn:"):
        return f"arn:{arn}"
    return arn


class RekognitionCollectionProvider(ResourceProvider[dict]):
    TYPE = TYPE_NAME
    SCHEMA = SCHEMA

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = dict(request.desired_state)
        collection_id = model.get("CollectionId")
        if not collection_id:
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model=model,
                message="Property CollectionId is required",
                error_code="InvalidRequest",
            )
        params = {"CollectionId": collection_id}
        if tags := _tags_as_map(model.get("Tags")):
            params["Tags"] = tags
        response = request.aws_client_factory.rekognition.create_collection(**params)
        model["Arn"] = _normalized_arn(response.get("CollectionArn")) or _collection_arn(
            request, collection_id
        )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def read(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = dict(request.desired_state)
        client = request.aws_client_factory.rekognition
        try:
            response = client.describe_collection(CollectionId=model["CollectionId"])
        except client.exceptions.ResourceNotFoundException:
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model={},
                message=f"Collection {model['CollectionId']} not found",
                error_code="NotFound",
            )
        model["Arn"] = _normalized_arn(response.get("CollectionARN")) or _collection_arn(
            request, model["CollectionId"]
        )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = dict(request.desired_state or request.previous_state or {})
        collection_id = model.get("CollectionId")
        if collection_id:
            client = request.aws_client_factory.rekognition
            try:
                client.delete_collection(CollectionId=collection_id)
            except client.exceptions.ResourceNotFoundException:
                pass  # already gone counts as deleted
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        # CollectionId is create-only (a change replaces the resource), so an update can only change the tags.
        model = dict(request.desired_state)
        previous = request.previous_state or {}
        arn = previous.get("Arn") or _collection_arn(request, model["CollectionId"])
        model["Arn"] = arn
        desired, before = _tags_as_map(model.get("Tags")), _tags_as_map(previous.get("Tags"))
        client = request.aws_client_factory.rekognition
        if gone := [k for k in before if k not in desired]:
            client.untag_resource(ResourceArn=arn, TagKeys=gone)
        if desired and desired != before:
            client.tag_resource(ResourceArn=arn, Tags=desired)
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)
