"""Checks Riv's fast-path hooks (riv_localstack/fast_paths.py) against the installed LocalStack and moto.

Run with the project venv's Python (localstack/launcher/tests/extension.rs does). Exits non-zero, saying why, when
something the hooks patch is gone or renamed (the pinned LocalStack changed: look again at what the hook does),
when a hook is not an installed entry point, or when a patched call answers differently from the original.
"""

import importlib.metadata
import sys
import time

HOOKS = [
    "riv_states_cached_definitions",
    "riv_cached_jsonpaths",
    "riv_dynamodb_item_rollback",
    "riv_dynamodb_keyed_query",
    "riv_states_lambda_clients",
    "riv_states_express_events",
    "riv_cfn_short_waits",
]

DEFINITION = """{
  "StartAt": "Both",
  "States": {
    "Both": {"Type": "Parallel", "Branches": [
      {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"Id.$": "$.UserId"}, "End": true}}},
      {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 1, "ResultPath": "$.Seen", "End": true}}}
    ], "End": true}
  }
}"""


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def check_entry_points() -> str | None:
    group = importlib.metadata.entry_points(group="localstack.hooks.on_infra_start")
    names = {e.name for e in group}
    missing = [h for h in HOOKS if h not in names]
    if missing:
        return f"{', '.join(missing)} not installed entry points of localstack.hooks.on_infra_start: list them in localstack/extension/pyproject.toml"
    return None


def check_definitions() -> str | None:
    from localstack.services.stepfunctions.asl.parse.asl_parser import AmazonStateLanguageParser
    from localstack.services.stepfunctions.backend import execution_worker

    from riv_localstack import fast_paths

    if "AmazonStateLanguageParser.parse(" not in _source(execution_worker.ExecutionWorker._get_evaluation_entrypoint):
        return "ExecutionWorker._get_evaluation_entrypoint no longer calls AmazonStateLanguageParser.parse: look again at riv_states_cached_definitions"
    original, _ = AmazonStateLanguageParser.parse(DEFINITION)
    fast_paths.riv_states_cached_definitions()
    first, _ = AmazonStateLanguageParser.parse(DEFINITION)
    second, _ = AmazonStateLanguageParser.parse(DEFINITION)
    if first is not second:
        return "with riv_states_cached_definitions a definition is still parsed on every call"
    if type(first) is not type(original) or len(first.states.states) != len(original.states.states):
        return "the cached parse of a definition differs from LocalStack's own"
    try:
        AmazonStateLanguageParser.parse('{"StartAt": }')
    except Exception:
        pass
    else:
        return "with riv_states_cached_definitions a broken definition no longer fails to parse"
    return None


def check_jsonpaths() -> str | None:
    from localstack.services.apigateway.next_gen.execute_api import template_mapping
    from localstack.services.stepfunctions.asl.component.common.path import result_path
    from localstack.services.stepfunctions.asl.utils import json_path

    from riv_localstack import fast_paths

    for module in (json_path, result_path, template_mapping):
        if not callable(getattr(module, "parse", None)):
            return f"{module.__name__} has no parse() any more: look again at riv_cached_jsonpaths"
    data = {"UserId": "alice", "Faces": [{"FaceId": "f1"}, {"FaceId": "f2"}], "Nested": {"Image": "AAAA"}}
    paths = ["$.UserId", "$.Faces[1].FaceId", "$.Faces[*].FaceId", "$.Nested.Image"]
    before = [json_path.extract_json(p, data) for p in paths]
    before_vtl = [template_mapping.extract_jsonpath(data, p) for p in paths]
    started = time.perf_counter()
    for _ in range(20):
        json_path.extract_json("$.UserId", data)
    uncached = time.perf_counter() - started

    fast_paths.riv_cached_jsonpaths()
    after = [json_path.extract_json(p, data) for p in paths]
    after_vtl = [template_mapping.extract_jsonpath(data, p) for p in paths]
    if before != after or before_vtl != after_vtl:
        return f"cached JSONPaths answer differently: {before} {before_vtl} became {after} {after_vtl}"
    try:
        json_path.extract_json("$.Missing", data)
    except json_path.NoSuchJsonPathError:
        pass
    else:
        return "with riv_cached_jsonpaths a missing path no longer raises NoSuchJsonPathError"
    started = time.perf_counter()
    for _ in range(20):
        json_path.extract_json("$.UserId", data)
    cached = time.perf_counter() - started
    if cached * 5 > uncached:
        return f"cached JSONPaths are not faster: 20 evaluations took {cached * 1000:.1f} ms, {uncached * 1000:.1f} ms before"
    print(f"20 JSONPath evaluations: {uncached * 1000:.1f} ms before, {cached * 1000:.1f} ms with the cache")
    return None


def _source(fn) -> str:
    import inspect

    return inspect.getsource(fn)


def _backend_with_rows(rows: int):
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("eu-west-1", "000000000000")
    backend.create_table(
        "Faces",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "face", "AttributeType": "S"},
        ],
        global_indexes=[{
            "IndexName": "ByFace",
            "KeySchema": [{"AttributeName": "face", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=None,
        deletion_protection_enabled=False,
        warm_throughput=None,
    )  # fmt: skip
    for n in range(rows):
        for sk in ("meta", "face#2", "face#1"):
            backend.put_item(
                "Faces",
                {"pk": {"S": f"user{n}"}, "sk": {"S": sk}, "n": {"N": str(n)}, "face": {"S": f"f{n}{sk}"}},
            )
    return backend


def _query(backend, key: dict, index: str | None = None, forward: bool = True) -> list:
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = backend.tables["Faces"]
    ((name, value),) = key.items()
    items, _, _ = table.query(
        DynamoType(value), None, [], None, None, forward, None, index_name=index
    )
    return [(i.attrs["pk"].value, i.attrs["sk"].value) for i in items]


def check_queries() -> str | None:
    from moto.dynamodb.models.table import Table

    from riv_localstack import fast_paths

    if "self.all_items()" not in _source(Table.query):
        return "moto's Table.query no longer lists all_items(): look again at riv_dynamodb_keyed_query"
    backend = _backend_with_rows(2000)
    asks = [({"pk": {"S": "user7"}}, None, True), ({"pk": {"S": "user7"}}, None, False),
            ({"pk": {"S": "nobody"}}, None, True), ({"face": {"S": "f9face#1"}}, "ByFace", True)]  # fmt: skip
    before = [_query(backend, *a) for a in asks]
    started = time.perf_counter()
    _query(backend, *asks[0])
    slow = time.perf_counter() - started
    size = len(backend.tables["Faces"].items)
    fast_paths.riv_dynamodb_keyed_query()
    after = [_query(backend, *a) for a in asks]
    if before != after:
        return f"with riv_dynamodb_keyed_query queries answer differently: {before} became {after}"
    if len(backend.tables["Faces"].items) != size:
        return "with riv_dynamodb_keyed_query a query for a missing key added it to the table"
    if before[0] != [("user7", "face#1"), ("user7", "face#2"), ("user7", "meta")]:
        return f"a query for user7 answered {before[0]}"
    started = time.perf_counter()
    _query(backend, *asks[0])
    fast = time.perf_counter() - started
    if fast * 5 > slow:
        return f"with riv_dynamodb_keyed_query a query took {fast * 1000:.1f} ms, {slow * 1000:.1f} ms before"
    print(f"a query on a table of 6000 items: {slow * 1000:.1f} ms before, {fast * 1000:.1f} ms with the hook")
    return None


def check_lambda_clients() -> str | None:
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task import (
        lambda_eval_utils,
    )
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task.credentials import (
        StateCredentials,
    )

    from riv_localstack import fast_paths

    if "boto_client_for(" not in _source(lambda_eval_utils._invoke_lambda_function):
        return "_invoke_lambda_function no longer calls boto_client_for: look again at riv_states_lambda_clients"
    made = []

    def counting(service, region, state_credentials):
        made.append((service, region, state_credentials.role_arn))
        return object()

    lambda_eval_utils.boto_client_for = counting
    fast_paths.riv_states_lambda_clients()
    role = "arn:aws:iam::000000000000:role/a"
    first = lambda_eval_utils.boto_client_for("lambda", "eu-west-1", StateCredentials(role_arn=role))
    again = lambda_eval_utils.boto_client_for("lambda", "eu-west-1", StateCredentials(role_arn=role))
    other = lambda_eval_utils.boto_client_for("lambda", "eu-west-1", StateCredentials(role_arn=role + "b"))
    elsewhere = lambda_eval_utils.boto_client_for("lambda", "us-east-1", StateCredentials(role_arn=role))
    if first is not again or len(made) != 3 or len({id(first), id(other), id(elsewhere)}) != 3:
        return f"riv_states_lambda_clients: one client per role and region expected, clients made for {made}"
    return None


def check_express_events() -> str | None:
    from localstack.aws.api.stepfunctions import StateMachineType
    from localstack.services.stepfunctions.backend.execution import Execution

    from riv_localstack import fast_paths

    published = []

    def recording(self):
        published.append(self.sm_type)

    Execution.publish_execution_status_change_event = recording
    fast_paths.riv_states_express_events()
    for sm_type in (StateMachineType.EXPRESS, StateMachineType.STANDARD):
        execution = Execution.__new__(Execution)
        execution.sm_type = sm_type
        execution.publish_execution_status_change_event()
    if published != [StateMachineType.STANDARD]:
        return f"riv_states_express_events: events published for {published}, expected STANDARD only"
    return None


def check_cfn_waits() -> str | None:
    import inspect

    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    from riv_localstack import fast_paths

    original = inspect.signature(ResourceProviderExecutor.deploy_loop).parameters
    if list(original)[:4] != ["self", "resource_provider", "resource", "raw_payload"] or original.get(
            "sleep_time") is None or original["sleep_time"].default != 1:
        return f"riv_cfn_short_waits: ResourceProviderExecutor.deploy_loop{list(original)} has no sleep_time=1 to shorten"
    seen = {}

    def recording(self, resource_provider, resource, raw_payload, max_timeout=300, sleep_time=1):
        seen.update(max_timeout=max_timeout, sleep_time=sleep_time)

    ResourceProviderExecutor.deploy_loop = recording
    fast_paths.riv_cfn_short_waits()
    ResourceProviderExecutor.deploy_loop(None, None, {}, {})
    if seen != {"max_timeout": 300, "sleep_time": fast_paths.RESOURCE_POLL_SECONDS}:
        return f"riv_cfn_short_waits: deploy_loop called with {seen}"
    return None


def check_transactions() -> str | None:
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    from riv_localstack import fast_paths

    if "copy.deepcopy(" not in _source(DynamoDBBackend.transact_write_items):
        return "moto's transact_write_items no longer deep-copies tables: look again at riv_dynamodb_item_rollback"
    if not hasattr(dynamodb_models, "copy"):
        return "moto.dynamodb.models no longer imports copy: look again at riv_dynamodb_item_rollback"

    def state(backend) -> dict:
        table = backend.tables["Faces"]
        return {(h.value, r.value): item.to_json()["Attributes"] for h, by in table.items.items() for r, item in by.items()}

    def cancelled(backend) -> str | None:
        before = state(backend)
        items = [
            {"Put": {"TableName": "Faces", "Item": {"pk": {"S": "new"}, "sk": {"S": "meta"}}}},
            {"Update": {"TableName": "Faces", "Key": {"pk": {"S": "user1"}, "sk": {"S": "meta"}},
                        "UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "99"}}}},
            {"Delete": {"TableName": "Faces", "Key": {"pk": {"S": "user2"}, "sk": {"S": "meta"}}}},
            {"ConditionCheck": {"TableName": "Faces", "Key": {"pk": {"S": "user0"}, "sk": {"S": "meta"}},
                                "ConditionExpression": "attribute_not_exists(pk)"}},
        ]  # fmt: skip
        try:
            backend.transact_write_items(items)
        except TransactionCanceledException:
            pass
        else:
            return "a transaction whose condition fails was not cancelled"
        if state(backend) != before:
            return "a cancelled transaction left changes behind"
        backend.transact_write_items(items[:3])
        after = state(backend)
        if ("new", "meta") not in after or ("user2", "meta") in after or after[("user1", "meta")]["n"] != {"N": "99"}:
            return f"a transaction that succeeds did not apply: {after}"
        return None

    def timed_put(backend) -> float:
        started = time.perf_counter()
        backend.transact_write_items([{"Put": {"TableName": "Faces", "Item": {"pk": {"S": "t"}, "sk": {"S": "face"}}}}])
        return time.perf_counter() - started

    rows = 1000
    slow = _backend_with_rows(rows)
    problem = cancelled(slow)
    if problem:
        return f"moto's own transactions: {problem}"
    uncached = timed_put(slow)

    fast_paths.riv_dynamodb_item_rollback()
    fast = _backend_with_rows(rows)
    problem = cancelled(fast)
    if problem:
        return f"with riv_dynamodb_item_rollback {problem}"
    patched = timed_put(fast)
    if patched * 5 > uncached:
        return f"with riv_dynamodb_item_rollback a transaction on {rows * 3} items took {patched * 1000:.1f} ms, {uncached * 1000:.1f} ms before"
    print(f"a transaction on a table of {rows * 3} items: {uncached * 1000:.1f} ms before, {patched * 1000:.1f} ms with the hook")
    return None


def main() -> int:
    checks = (check_entry_points, check_definitions, check_jsonpaths, check_transactions, check_queries, check_lambda_clients,
              check_express_events, check_cfn_waits)
    for check in checks:
        problem = check()
        if problem:
            return fail(problem)
    print("fast paths: definitions parsed once, JSONPaths compiled once, transactions roll back their own items")
    return 0


if __name__ == "__main__":
    sys.exit(main())
