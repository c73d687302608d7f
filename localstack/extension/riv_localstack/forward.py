"""Rekognition and Textract providers that forward every request, unchanged, to the Riv emulator.

The community edition of LocalStack 4.14 has no provider for these services ("not included in your current license
plan"). Registering ``rekognition:riv`` / ``textract:riv`` (selected with PROVIDER_OVERRIDE_REKOGNITION=riv and
PROVIDER_OVERRIDE_TEXTRACT=riv) makes LocalStack route them here. LocalStack parses the request only to learn the
operation; the original HTTP request (AWS JSON 1.1, ``X-Amz-Target: RekognitionService.<Op>`` / ``Textract.<Op>``)
is proxied to the URL in RIV_EMULATOR_URL and the emulator's status, headers and body are returned as they are,
errors included. The internal clients LocalStack itself uses (e.g. CloudFormation resource providers) take the same
path.
"""

import logging
import os
import threading

import requests

from localstack.aws.api import CommonServiceException, RequestContext, ServiceRequest
from localstack.aws.forwarder import AwsRequestProxy
from localstack.aws.skeleton import DispatchTable
from localstack.aws.spec import load_service
from localstack.http import Response

LOG = logging.getLogger(__name__)

EMULATOR_URL_ENV = "RIV_EMULATOR_URL"
# headers that describe the emulator connection, not the message
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


class ForwardingProvider:
    """A provider without operations of its own: the dispatch table forwards everything."""

    def __init__(self, service: str):
        self.service = service


class EmulatorForwarder:
    """ServiceRequestHandler that proxies the raw request to the emulator and returns its raw response."""

    def __init__(self, service: str):
        self.service = service
        self._lock = threading.Lock()
        self._proxies: dict[str, AwsRequestProxy] = {}

    def _proxy_for(self, url: str) -> AwsRequestProxy:
        with self._lock:
            proxy = self._proxies.get(url)
            if proxy is None:
                proxy = AwsRequestProxy(url, parse_response=False)
                self._proxies[url] = proxy
            return proxy

    def __call__(self, context: RequestContext, _request: ServiceRequest = None) -> Response:
        url = os.environ.get(EMULATOR_URL_ENV, "").strip().rstrip("/")
        if not url:
            raise CommonServiceException(
                "ServiceUnavailableException",
                f"{self.service} is served by the Riv emulator, but {EMULATOR_URL_ENV} is not set "
                "in LocalStack's environment",
                status_code=503,
            )
        try:
            upstream = self._proxy_for(url).forward(context)
        except requests.exceptions.ConnectionError as e:
            LOG.warning("Riv emulator at %s unreachable for %s: %s", url, self.service, e)
            raise CommonServiceException(
                "ServiceUnavailableException",
                f"the Riv emulator at {url} ({EMULATOR_URL_ENV}) is unreachable",
                status_code=503,
            ) from e
        return _as_localstack_response(upstream)


def _as_localstack_response(upstream) -> Response:
    """Copies the proxy's (rolo) response into the Response type the skeleton passes through unserialized."""
    body = upstream.get_data()
    headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP]
    response = Response(body, status=upstream.status_code, headers=headers)
    response.headers["Content-Length"] = str(len(body))
    return response


def forwarding_dispatch_table(provider: ForwardingProvider) -> DispatchTable:
    """Maps every operation of the provider's service (from botocore's spec) to one forwarder."""
    forwarder = EmulatorForwarder(provider.service)
    return {name: forwarder for name in load_service(provider.service).operation_names}
