"""DynamoDB provider that serves every operation from LocalStack's bundled moto, offline.

LocalStack's own DynamoDB providers download Java and DynamoDB Local at first use, which fails without internet.
This provider implements nothing itself: every DynamodbApi method raises NotImplementedError, so the dispatch table
falls through to moto. Unlike LocalStack's ``MotoFallbackDispatcher`` (which parses moto's answer and serializes it
again), the fallthrough returns moto's HTTP response as is, so error bodies keep all their members (e.g.
``CancellationReasons`` of ``TransactionCanceledException``) and the ``x-amz-crc32`` header stays valid.
"""

import logging
import threading

from moto.core.exceptions import RESTError

from localstack.aws.api import RequestContext, ServiceRequest
from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.forwarder import ForwardingFallbackDispatcher
from localstack.aws.skeleton import DispatchTable
from localstack.http import Response
from localstack.http.request import get_full_raw_path, get_raw_current_url
from localstack.services.moto import get_dispatcher

LOG = logging.getLogger(__name__)

_JSON_CONTENT_TYPE = "application/x-amz-json-1.0"

# moto's DynamoDB backend is not thread-safe: a TransactWriteItems iterating a table while another request adds
# to it fails with "dictionary changed size during iteration" (a 500 InternalError that real DynamoDB never
# gives). LocalStack serves requests on many threads, so every call into the backend takes this lock; each takes
# milliseconds, and DynamoDB's own semantics (serialisable transactions, conditional writes) are kept.
_MOTO_DYNAMODB = threading.Lock()


class MotoDynamoDBProvider(DynamodbApi):
    """All operations fall through to moto (see ``moto_passthrough_dispatcher``)."""

    service = "dynamodb"


def call_moto_raw(context: RequestContext, _request: ServiceRequest = None) -> Response:
    """Dispatches the incoming request to moto's DynamoDB backend and returns moto's HTTP response unchanged."""
    request = context.request
    full_raw_path = get_full_raw_path(request)
    dispatch = get_dispatcher(context.service.service_name, full_raw_path.split("?")[0])
    raw_url = get_raw_current_url(request.scheme, request.host, request.root_path, full_raw_path)
    try:
        with _MOTO_DYNAMODB:
            result = dispatch(request, raw_url, request.headers)
    except RESTError as e:
        # moto usually turns its errors into responses itself; this covers the ones that escape
        headers = dict(e.get_headers() or [])
        headers.setdefault("Content-Type", _JSON_CONTENT_TYPE)
        return Response(e.description, e.code, headers)
    if not result:
        raise NotImplementedError(f"moto does not implement {context.operation.name}")
    status, headers, content = result
    if isinstance(content, str) and not content:
        content = None
    return Response(content, status, headers)


def moto_passthrough_dispatcher(provider: object) -> DispatchTable:
    """Dispatch table: the provider's methods, falling through to moto (raw response) when not implemented."""
    return ForwardingFallbackDispatcher(provider, call_moto_raw)
