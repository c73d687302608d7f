"""Associates a customer key with a log group in the installed LocalStack's Logs service (moto), before and after
Riv's hook.

Run with the project venv's Python (localstack/launcher/tests/extension.rs does). CloudWatch Logs answers
AssociateKmsKey and reports the key in DescribeLogGroups; LocalStack 4.14 does neither. Exits non-zero, saying
why, when LocalStack does it by itself (the hook can go), or the hook does not make it, or an unknown group is
not refused.
"""

import importlib.metadata
import logging
import sys

import boto3
from moto import mock_aws

from riv_localstack import hooks

GROUP = "/aws/lambda/Riv-Check-detect-faces"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def registered() -> bool:
    group = importlib.metadata.entry_points(group="localstack.hooks.on_infra_start")
    return any(e.name == "riv_logs_kms_keys" for e in group)


def associate(logs, group: str):
    """AssociateKmsKey, then the group's key as DescribeLogGroups reports it, or what was raised."""
    try:
        logs.associate_kms_key(logGroupName=group, kmsKeyId=KEY)
    except Exception as error:  # noqa: BLE001 - the check reports whatever was raised
        return error
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    return groups[0].get("kmsKeyId") if groups else None


def main() -> int:
    logging.disable(logging.CRITICAL)
    if not registered():
        print(
            "riv_logs_kms_keys is not an installed entry point of localstack.hooks.on_infra_start: "
            "list it in localstack/extension/pyproject.toml",
            file=sys.stderr,
        )
        return 1
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName=GROUP)
        before = associate(logs, GROUP)
        if before == KEY:
            print("moto now associates keys by itself: drop riv_logs_kms_keys from riv_localstack/hooks.py", file=sys.stderr)
            return 1
        hooks.riv_logs_kms_keys()
        after = associate(logs, GROUP)
        if after != KEY:
            print(f"after the hook, the group's key is {after!r}, not {KEY}", file=sys.stderr)
            return 1
        unknown = associate(logs, GROUP + "-none")
        if not isinstance(unknown, Exception) or "ResourceNotFound" not in type(unknown).__name__ + str(unknown):
            print(f"AssociateKmsKey on an unknown group gave {unknown!r}, not ResourceNotFoundException", file=sys.stderr)
            return 1
        logs.disassociate_kms_key(logGroupName=GROUP)
        left = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0].get("kmsKeyId")
        if left is not None:
            print(f"DisassociateKmsKey left {left!r}", file=sys.stderr)
            return 1
    print("log groups take a customer key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
