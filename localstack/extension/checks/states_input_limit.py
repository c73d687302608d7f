"""Starts an EXPRESS state machine in the installed LocalStack's Step Functions provider with an input one byte
over 256 KiB, before and after Riv's hook.

Run with the project venv's Python (localstack/launcher/tests/extension.rs does). Step Functions refuses that
input with a ValidationException; LocalStack 4.14 runs it. Exits non-zero, saying why, when LocalStack refuses it
by itself (the hook can go) or the hook does not make it, or the hook refuses an input at the limit.
"""

import importlib.metadata
import json
import logging
import sys

from localstack.aws.api import RequestContext
from localstack.aws.api.stepfunctions import ValidationException
from localstack.services.stepfunctions.provider import StepFunctionsProvider

from riv_localstack import hooks

LIMIT = 262144


def context() -> RequestContext:
    ctx = RequestContext(None)
    ctx.account_id = "000000000000"
    ctx.region = "us-east-1"
    return ctx


def start(provider, arn: str, size: int, multibyte: bool = False):
    """StartSyncExecution with a JSON input of `size` UTF-8 bytes: the execution's status, or what was raised."""
    filler = "é" if multibyte else "x"  # two bytes, one character
    text = filler * ((size - 10) // len(filler.encode()))
    data = json.dumps({"k": text}, ensure_ascii=False)
    data += " " * (size - len(data.encode()))
    assert len(data.encode()) == size
    try:
        return provider.start_sync_execution(context(), state_machine_arn=arn, input=data)["status"]
    except Exception as error:  # noqa: BLE001 - the check reports whatever was raised
        return error


def registered() -> bool:
    group = importlib.metadata.entry_points(group="localstack.hooks.on_infra_start")
    return any(e.name == "riv_states_execution_input_limit" for e in group)


def main() -> int:
    logging.disable(logging.CRITICAL)  # LocalStack logs each execution's whole input
    if not registered():
        print(
            "riv_states_execution_input_limit is not an installed entry point of localstack.hooks.on_infra_start: "
            "list it in localstack/extension/pyproject.toml",
            file=sys.stderr,
        )
        return 1
    provider = StepFunctionsProvider()
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    request = {
        "name": "riv-input-limit",
        "definition": json.dumps(definition),
        "roleArn": "arn:aws:iam::000000000000:role/riv",
        "type": "EXPRESS",
    }
    arn = provider.create_state_machine(context(), request)["stateMachineArn"]
    before = start(provider, arn, LIMIT + 1)
    if isinstance(before, ValidationException):
        print(
            f"LocalStack now refuses input over {LIMIT} bytes by itself ({before}): "
            "drop riv_states_execution_input_limit from riv_localstack/hooks.py",
            file=sys.stderr,
        )
        return 1
    hooks.riv_states_execution_input_limit()
    for size, multibyte, refused in [(LIMIT, False, False), (LIMIT + 1, False, True), (LIMIT + 1, True, True)]:
        got = start(provider, arn, size, multibyte)
        if refused and not isinstance(got, ValidationException):
            print(f"{size} bytes (multibyte: {multibyte}): wanted a ValidationException, got {got!r}", file=sys.stderr)
            return 1
        if not refused and got != "SUCCEEDED":
            print(f"{size} bytes: wanted a successful execution, got {got!r}", file=sys.stderr)
            return 1
    print(f"without the hook {LIMIT + 1} bytes started an execution ({before}); with it: {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
