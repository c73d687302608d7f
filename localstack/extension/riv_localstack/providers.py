"""LocalStack service provider plugins (namespace ``localstack.aws.provider``) registered by Riv.

Each function is a plux PluginSpec named ``<api>:<provider>``; LocalStack picks it when started with
``PROVIDER_OVERRIDE_<API>=<provider>``. Heavy imports happen inside the factories, at first use of the service.
"""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    """DynamoDB backed by moto (offline; no Java, no DynamoDB Local download)."""
    from riv_localstack.dynamodb_moto import MotoDynamoDBProvider, moto_passthrough_dispatcher

    return Service.for_provider(
        MotoDynamoDBProvider(), dispatch_table_factory=moto_passthrough_dispatcher
    )


@aws_provider(api="rekognition", name="riv")
def rekognition_riv() -> Service:
    """Rekognition forwarded to the Riv emulator at RIV_EMULATOR_URL."""
    from riv_localstack.forward import ForwardingProvider, forwarding_dispatch_table

    return Service.for_provider(
        ForwardingProvider("rekognition"), dispatch_table_factory=forwarding_dispatch_table
    )


@aws_provider(api="textract", name="riv")
def textract_riv() -> Service:
    """Textract forwarded to the Riv emulator at RIV_EMULATOR_URL."""
    from riv_localstack.forward import ForwardingProvider, forwarding_dispatch_table

    return Service.for_provider(
        ForwardingProvider("textract"), dispatch_table_factory=forwarding_dispatch_table
    )
