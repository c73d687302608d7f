"""LocalStack runtime hooks that take per-request work off LocalStack's one Python interpreter.

LocalStack serves every request on threads of one process, so whatever Python work a request does holds the GIL
and queues every other request behind it. Profiling the local stack under 8 concurrent auths (py-spy, GIL-holding
samples, LocalStack 4.14) found the interpreter busy 70 % of the time, most of it on work that is the same for
every request:

- ``riv_states_cached_definitions``: every Step Functions execution parses its state machine's definition again
  with ANTLR (13 % of the samples). The parsed program is an immutable tree (per-execution state lives in the
  ``Environment`` and in per-evaluation helpers such as ``BranchWorkerPool``), so one parse per definition text
  serves every execution of it.
- ``riv_cached_jsonpaths``: every JSONPath a state evaluates (``$.UserId``, ``$.Image`` …) and every ``$input.path``
  of an API Gateway mapping template builds a new ply parser, LR tables included, before parsing a few
  characters (19 % + 7 %). The compiled expressions are immutable: compile each path once.
- ``riv_dynamodb_item_rollback``: moto's TransactWriteItems deep-copies every table the transaction names, whole,
  to roll back on failure: O(table size) per transaction, under the DynamoDB lock that serialises all DynamoDB
  calls (17 %, and growing with every registered user). A transaction touches at most 100 items: only those are
  copied, and restored when the transaction is cancelled, which is the same outcome.
- ``riv_dynamodb_keyed_query``: moto answers a Query on a table's own key by listing and sorting every item of
  the table, then keeping those with the hash key asked for (7 %, growing with the table). Items are stored by
  hash key: the query now lists only that hash key's items, in the same order.
- ``riv_states_lambda_clients``: every Lambda task assumes the state machine's role and builds a new botocore
  client for the call (30 % once the parsing above was gone: botocore's client set-up, user agent included, is
  slow). Clients are thread-safe and the role's credentials do not change: one client per role and region serves
  every task.
- ``riv_states_express_events``: LocalStack publishes an EventBridge "Execution Status Change" event at every
  execution's start and end, serialising the input (our photos) for it and sending it through its own HTTP
  gateway. Step Functions emits these for Standard workflows only; Riv's are all EXPRESS, and no rule listens.
  Express executions now publish none, as on AWS.
- ``riv_cfn_short_waits``: CloudFormation polls a resource that is still being made (a Lambda function until it is
  Active) five times, then once a second: most resources of a Riv stack were ready a few milliseconds after the
  fifth poll and waited out the rest of the second, one resource after another (a stack took 12 s to deploy).
  The polls now come every 50 ms, with the same timeout per resource.

``localstack/extension/checks/fast_paths.py`` checks each against the pinned LocalStack and moto: that what is
patched is still there, and that the patched calls give the same results as the originals.
"""

import copy
import functools
import logging
import threading

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)

# CloudFormation's pause between polls of a resource still in progress (LocalStack's is 1 s).
RESOURCE_POLL_SECONDS = 0.05

# Distinct definitions and paths are few (a stack has a handful of state machines and templates); the bound only
# keeps a pathological caller from growing the caches without end.
DEFINITIONS_CACHED = 256
PATHS_CACHED = 4096


def _parse_once(parse, size: int):
    """``parse`` memoised on its text argument; anything else (never seen from LocalStack) parses as before."""
    if getattr(parse, "riv_cached", False):
        return parse
    cached = functools.lru_cache(maxsize=size)(parse)

    def parse_once(text):
        if isinstance(text, str):
            return cached(text)
        return parse(text)

    parse_once.riv_cached = True
    parse_once.riv_original = parse
    return parse_once


@hooks.on_infra_start()
def riv_states_cached_definitions():
    from localstack.services.stepfunctions.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = AmazonStateLanguageParser.parse
    AmazonStateLanguageParser.parse = staticmethod(_parse_once(parse, DEFINITIONS_CACHED))
    LOG.info("riv: Step Functions parses each state machine definition once")


def _cached_parse(module, attribute: str = "parse") -> None:
    setattr(module, attribute, _parse_once(getattr(module, attribute), PATHS_CACHED))


@hooks.on_infra_start()
def riv_cached_jsonpaths():
    from localstack.services.apigateway.next_gen.execute_api import template_mapping
    from localstack.services.stepfunctions.asl.component.common.path import result_path
    from localstack.services.stepfunctions.asl.utils import json_path

    for module in (json_path, result_path, template_mapping):
        _cached_parse(module)
    LOG.info("riv: JSONPaths of Step Functions and API Gateway templates compile once")


class _TablesAsIs:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: a ``Table`` is not copied (the rollback
    below restores the items a transaction touched instead); anything else is deep-copied as before."""

    def __init__(self, table_type):
        self._table_type = table_type

    def deepcopy(self, value, memo=None):
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _touched_items(backend, transact_items):
    """(table, hash key, range key, deep copy of the item now or None) for every item a transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    touched = []
    for entry in transact_items:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue  # moto refuses these before writing anything
        _, op = next(iter(entry.items()))
        table = backend.tables.get((op or {}).get("TableName"))
        if table is None:
            continue
        key = op.get("Key") or op.get("Item") or {}
        hash_value = key.get(table.hash_key_attr)
        if hash_value is None:
            continue
        hash_key = DynamoType(hash_value)
        range_key = None
        if table.range_key_attr is not None:
            range_value = key.get(table.range_key_attr)
            if range_value is None:
                continue
            range_key = DynamoType(range_value)
        current = table.items.get(hash_key)
        if range_key is not None:
            current = current.get(range_key) if current else None
        touched.append((table, hash_key, range_key, copy.deepcopy(current)))
    return touched


def _restore(touched) -> None:
    # In reverse, so an item named twice (which moto refuses) ends as it was before the first.
    for table, hash_key, range_key, item in reversed(touched):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        else:
            by_range = table.items[hash_key]
            if item is None:
                by_range.pop(range_key, None)
                if not by_range:
                    table.items.pop(hash_key, None)
            else:
                by_range[range_key] = item


@hooks.on_infra_start()
def riv_dynamodb_item_rollback():
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if isinstance(dynamodb_models.copy, _TablesAsIs):
        return
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items, *args, **kwargs):
        touched = _touched_items(self, transact_items or [])
        try:
            return transact(self, transact_items, *args, **kwargs)
        except Exception:
            _restore(touched)
            raise

    transact_write_items.riv_original = transact
    dynamodb_models.copy = _TablesAsIs(Table)
    DynamoDBBackend.transact_write_items = transact_write_items
    LOG.info("riv: DynamoDB transactions roll back the items they touched, not copies of whole tables")


_QUERIED_HASH_KEY = threading.local()


@hooks.on_infra_start()
def riv_dynamodb_keyed_query():
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "riv_original", None):
        return
    query, all_items = Table.query, Table.all_items

    def keyed_query(self, hash_key, *args, **kwargs):
        if kwargs.get("index_name"):
            return query(self, hash_key, *args, **kwargs)
        _QUERIED_HASH_KEY.value = hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERIED_HASH_KEY.value = None

    def items_of_the_queried_key(self):
        hash_key = getattr(_QUERIED_HASH_KEY, "value", None)
        if hash_key is None:
            return all_items(self)
        # .get, not [ ]: items is a defaultdict, and a lookup must not add an empty hash key
        stored = self.items.get(hash_key)
        if stored is None:
            return []
        if self.range_key_attr:
            return sorted(stored.values(), key=lambda item: (item.hash_key, item.range_key))
        return [stored]

    keyed_query.riv_original = query
    items_of_the_queried_key.riv_original = all_items
    Table.query = keyed_query
    Table.all_items = items_of_the_queried_key
    LOG.info("riv: DynamoDB queries on a table's key read that key's items only")


@hooks.on_infra_start()
def riv_states_lambda_clients():
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_task import (
        lambda_eval_utils,
    )

    original = lambda_eval_utils.boto_client_for
    if getattr(original, "riv_original", None):
        return
    clients = {}
    lock = threading.Lock()

    def client_for(service, region, state_credentials):
        key = (service, region, getattr(state_credentials, "role_arn", None))
        with lock:
            client = clients.get(key)
        if client is None:
            client = original(service=service, region=region, state_credentials=state_credentials)
            with lock:
                client = clients.setdefault(key, client)
        return client

    client_for.riv_original = original
    lambda_eval_utils.boto_client_for = client_for
    LOG.info("riv: Step Functions Lambda tasks reuse one client per role and region")


@hooks.on_infra_start()
def riv_states_express_events():
    from localstack.aws.api.stepfunctions import StateMachineType
    from localstack.services.stepfunctions.backend.execution import Execution

    publish = Execution.publish_execution_status_change_event
    if getattr(publish, "riv_original", None):
        return

    def publish_for_standard_only(self):
        if self.sm_type == StateMachineType.EXPRESS:
            return None
        return publish(self)

    publish_for_standard_only.riv_original = publish
    Execution.publish_execution_status_change_event = publish_for_standard_only
    LOG.info("riv: Express executions publish no status change events, as on AWS")


@hooks.on_infra_start()
def riv_cfn_short_waits():
    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    loop = ResourceProviderExecutor.deploy_loop
    if getattr(loop, "riv_original", None):
        return

    @functools.wraps(loop)
    def deploy_loop(self, resource_provider, resource, raw_payload, *args, **kwargs):
        kwargs.setdefault("sleep_time", RESOURCE_POLL_SECONDS)
        return loop(self, resource_provider, resource, raw_payload, *args, **kwargs)

    deploy_loop.riv_original = loop
    ResourceProviderExecutor.deploy_loop = deploy_loop
    LOG.info("riv: CloudFormation polls a resource in progress every %s s", RESOURCE_POLL_SECONDS)
