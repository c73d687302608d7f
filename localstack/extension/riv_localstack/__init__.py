"""Riv's LocalStack 4.14 extension: plugins that let LocalStack serve Riv offline as a host process.

Entry points (see pyproject.toml) register:
- ``dynamodb:moto``: DynamoDB served by LocalStack's bundled moto (PROVIDER_OVERRIDE_DYNAMODB=moto);
- ``rekognition:riv`` / ``textract:riv``: requests forwarded unchanged to the Riv emulator at RIV_EMULATOR_URL
  (PROVIDER_OVERRIDE_REKOGNITION=riv, PROVIDER_OVERRIDE_TEXTRACT=riv);
- ``AWS::Rekognition::Collection``: a CloudFormation resource provider;
- ``process``: a Lambda runtime executor running the function's bootstrap on the host under the program at
  RIV_LAMBDA_RUNNER (LAMBDA_RUNTIME_EXECUTOR=process).

Modules are imported lazily by LocalStack; keep module-level imports light.
"""
