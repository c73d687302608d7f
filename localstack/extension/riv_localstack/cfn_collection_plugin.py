"""Plugin (namespace ``localstack.cloudformation.resource_providers``) for ``AWS::Rekognition::Collection``.

LocalStack loads a resource provider by the plugin's ``name`` (the resource type); ``load`` sets ``factory``.
"""

from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    ResourceProvider,
)


class RekognitionCollectionProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::Rekognition::Collection"

    def __init__(self):
        self.factory: type[ResourceProvider] | None = None

    def load(self):
        from riv_localstack.cfn_collection import RekognitionCollectionProvider

        self.factory = RekognitionCollectionProvider
