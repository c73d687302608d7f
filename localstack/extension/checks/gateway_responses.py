"""Runs a request body that fails its model through the installed LocalStack's API Gateway handlers, before and
after Riv's hook, with a BAD_REQUEST_BODY gateway response shaped like the one infra/src/api.rs declares.

Run with the project venv's Python (localstack/launcher/tests/extension.rs does). Exits non-zero, saying why,
when LocalStack applies the template by itself (the hook can go) or the hook does not make it.
"""

import importlib.metadata
import json
import sys
from types import SimpleNamespace

from rolo import Response
from werkzeug.datastructures import Headers

from localstack.services.apigateway.models import RestApiContainer
from localstack.services.apigateway.next_gen.execute_api.gateway_response import BaseGatewayException
from localstack.services.apigateway.next_gen.execute_api.handlers.gateway_exception import (
    GatewayExceptionHandler,
)
from localstack.services.apigateway.next_gen.execute_api.handlers.method_request import (
    MethodRequestHandler,
)

from riv_localstack import hooks

SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["UserId", "Image"],
    "properties": {"UserId": {"type": "string"}, "Image": {"type": "string", "maxLength": 8}},
    "additionalProperties": False,
}
TEMPLATE = '{"Reason": "InvalidRequest", "Message": "$context.error.validationErrorString"}'


def answer(body: dict) -> tuple[int, dict, Headers]:
    api = RestApiContainer(rest_api={"id": "api"})
    api.validators["v"] = {"id": "v", "validateRequestBody": True}
    api.models["Req"] = {"name": "Req", "schema": json.dumps(SCHEMA)}
    api.gateway_responses["BAD_REQUEST_BODY"] = {
        "responseType": "BAD_REQUEST_BODY",
        "statusCode": "400",
        "responseTemplates": {"application/json": TEMPLATE},
        "responseParameters": {"gatewayresponse.header.x-riv": "'yes'"},
    }
    method = {"requestValidatorId": "v", "requestModels": {"application/json": "Req"}}
    request = {"body": json.dumps(body).encode(), "headers": Headers({"accept": "application/json"})}
    context = SimpleNamespace(
        deployment=SimpleNamespace(rest_api=api),
        context_variables={"requestId": "r"},
        stage_variables=None,
        invocation_request=request,
    )
    response = Response()
    try:
        MethodRequestHandler().validate_request(method, api, request)
        raise AssertionError(f"{body} passed the model")
    except BaseGatewayException as error:
        GatewayExceptionHandler()(None, error, context, response)
    return response.status_code, json.loads(response.data), response.headers


def registered() -> bool:
    group = importlib.metadata.entry_points(group="localstack.hooks.on_infra_start")
    return any(e.name == "riv_apigateway_gateway_responses" for e in group)


def main() -> int:
    if not registered():
        print(
            "riv_apigateway_gateway_responses is not an installed entry point of localstack.hooks.on_infra_start: "
            "list it in localstack/extension/pyproject.toml",
            file=sys.stderr,
        )
        return 1
    wrong_type = {"UserId": 7, "Image": "x"}
    status, body, _ = answer(wrong_type)
    if body.get("Reason") == "InvalidRequest":
        print(
            f"LocalStack now applies gateway response templates by itself ({status} {body}): "
            "drop riv_apigateway_gateway_responses from riv_localstack/hooks.py",
            file=sys.stderr,
        )
        return 1
    before = (status, body)
    hooks.riv_apigateway_gateway_responses()
    cases = {
        "a wrong type": (wrong_type, "/UserId"),
        "a missing member": ({"UserId": "u"}, "'Image' is a required property"),
        "an extra member": ({"UserId": "u", "Image": "x", "Extra": 1}, "'Extra' was unexpected"),
        "a value too long": ({"UserId": "u", "Image": "x" * 10_000}, "/Image: fails maxLength 8"),
    }
    for what, (body, expected) in cases.items():
        status, answered, headers = answer(body)
        message = answered.get("Message", "")
        if status != 400 or answered.get("Reason") != "InvalidRequest" or expected not in message:
            print(f"{what}: wanted 400 InvalidRequest naming {expected!r}, got {status} {answered}", file=sys.stderr)
            return 1
        if headers.get("x-riv") != "yes" or headers.get("Content-Type") != "application/json":
            print(f"{what}: the response parameters were not applied: {dict(headers)}", file=sys.stderr)
            return 1
    print(f"without the hook: {before[0]} {before[1]}; with it: {status} {answered}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
