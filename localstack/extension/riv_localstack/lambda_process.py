"""The ``process`` Lambda runtime executor: runs a function's unzipped ``bootstrap`` on the host, no Docker.

Each execution environment is one runner process (the program at RIV_LAMBDA_RUNNER, Riv's Rust runner) started as

    $RIV_LAMBDA_RUNNER --runtime-id <id> --listen 127.0.0.1:<P> --bootstrap <code>/bootstrap --task-root <code>
        --runtime-endpoint http://127.0.0.1:<gateway port>/_localstack_lambda/<id>
        --timeout-seconds <function timeout> --memory-mb <memory size>

in its own process group, with stdin a pipe that stays open (the runner exits when it closes) and stdout/stderr
appended to a log file. The runner speaks LocalStack's executor protocol (see executor_endpoint.py): it accepts
``POST /invoke`` on 127.0.0.1:<P>, serves the Lambda Runtime API to the bootstrap and calls back
``<runtime-endpoint>/status/<id>/ready|error`` and ``<runtime-endpoint>/invocations/<invoke-id>/logs|response|error``.
This executor sends ``POST /invoke?wait=1`` instead, which the runner answers at the invocation's end with its
logs and result, so an invoke costs LocalStack one loopback request rather than three (see ``invoke``).
This module is thin glue: it picks the port, starts LocalStack's ExecutorEndpoint, spawns and stops the runner.
"""

import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeoutError
from pathlib import Path

import requests

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    InvokeSendError,
    ShutdownDuringStartup,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from riv_localstack.forward import EMULATOR_URL_ENV

LOG = logging.getLogger(__name__)

RUNNER_ENV = "RIV_LAMBDA_RUNNER"
HOST = "127.0.0.1"
# how long stop() waits after SIGTERM before SIGKILL
STOP_GRACE_SECONDS = 2.0
# how much of the runner's log get_logs() returns / error messages quote
MAX_LOG_BYTES = 256 * 1024
ERROR_TAIL_LINES = 20
# The SDKs' service-specific endpoint variables: a function's Rekognition and Textract calls go to the emulator
# directly instead of through LocalStack's gateway, which would only proxy them there, photo and all, on the same
# Python interpreter that runs every other service of the stack.
DIRECT_ENDPOINTS = ("AWS_ENDPOINT_URL_REKOGNITION", "AWS_ENDPOINT_URL_TEXTRACT")
# PATH for the bootstrap when the function does not set one (Lambda's own default, then the host's)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# the runner's exit status when its invoke port was taken (EADDRINUSE), and how often to pick another
EXIT_PORT_TAKEN = 98
PORT_ATTEMPTS = 5
# How long an invoke may stay open: Lambda's longest timeout and a margin, as LocalStack's own endpoint waits
# (the runner ends a timed-out invocation itself, at the function's timeout).
INVOKE_WAIT_SECONDS = 900 + 5
INVOKE_CONNECT_SECONDS = 5


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _runner_path() -> str:
    runner = os.environ.get(RUNNER_ENV, "").strip()
    if not runner:
        raise LambdaRuntimeException(
            f"LAMBDA_RUNTIME_EXECUTOR=process needs {RUNNER_ENV} (path of the Riv Lambda runner) in "
            "LocalStack's environment"
        )
    if not os.access(runner, os.X_OK):
        raise LambdaRuntimeException(f"{RUNNER_ENV}={runner} is not an executable file")
    return runner


class ProcessRuntimeExecutor(RuntimeExecutor):
    """One execution environment = one runner process on the host."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.port = _free_port()
        self.executor_endpoint = ExecutorEndpoint(
            self.id, container_address=HOST, container_port=self.port
        )
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self._final_logs: str | None = None
        self._lock = threading.RLock()
        self._stopped = False
        # One connection to the runner, reused: invocations of one environment never overlap.
        self._session = requests.Session()
        self._session.trust_env = False  # never through a proxy: the runner is on loopback

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def _runner_env(self, env_vars: dict) -> dict[str, str]:
        env = {str(k): str(v) for k, v in env_vars.items() if v is not None}
        for key in [k for k in env if k.startswith("LOCALSTACK_RUNTIME_")]:
            del env[key]
        env.pop("AWS_LAMBDA_RUNTIME_API", None)  # the runner sets it for the bootstrap
        env["LAMBDA_TASK_ROOT"] = str(self._code_dir())
        emulator = os.environ.get(EMULATOR_URL_ENV, "").strip().rstrip("/")
        if emulator:
            for name in DIRECT_ENDPOINTS:
                env.setdefault(name, emulator)
        if "PATH" not in env:
            host_path = os.environ.get("PATH", "")
            env["PATH"] = f"{DEFAULT_PATH}:{host_path}" if host_path else DEFAULT_PATH
        return env

    def _code_dir(self) -> Path:
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException(
                "the process executor runs zip-packaged functions only (no container images)"
            )
        return Path(code.get_unzipped_code_location())

    def _command(self, runner: str, code_dir: Path) -> list[str]:
        cfg = self.function_version.config
        return [
            runner,
            "--runtime-id", self.id,
            "--listen", f"{HOST}:{self.port}",
            "--bootstrap", str(code_dir / "bootstrap"),
            "--task-root", str(code_dir),
            "--runtime-endpoint", self.get_runtime_endpoint(),
            "--timeout-seconds", str(cfg.timeout),
            "--memory-mb", str(cfg.memory_size),
        ]  # fmt: skip

    def start(self, env_vars: dict[str, str]) -> None:
        runner = _runner_path()
        code_dir = self._code_dir()
        if not (code_dir / "bootstrap").is_file():
            raise LambdaRuntimeException(f"no 'bootstrap' file in the function's code ({code_dir})")
        LOG.info(
            "process executor: starting runtime %s for %s (runner %s, invoke port %s)",
            self.id,
            self.function_version.qualified_arn,
            runner,
            self.port,
        )
        with self._lock:
            if self._stopped:
                raise ShutdownDuringStartup(f"execution environment {self.id} stopped before start")
            self.executor_endpoint.start()
            log_dir = Path(tempfile.gettempdir()) / "riv-lambda-logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path = log_dir / f"{self.id}.log"
        for attempt in range(PORT_ATTEMPTS):
            with self._lock:
                if self._stopped:
                    raise ShutdownDuringStartup(f"execution environment {self.id} stopped before start")
                with open(self.log_path, "ab") as log_file:
                    self.process = subprocess.Popen(
                        self._command(runner, code_dir),
                        stdin=subprocess.PIPE,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        cwd=str(code_dir),
                        env=self._runner_env(env_vars),
                        start_new_session=True,  # own session + process group, killed as a group by stop()
                        close_fds=True,
                    )
            try:
                self._wait_until_ready()
                break
            except LambdaRuntimeException:
                # The free port we picked was taken before the runner bound it: pick another and start again.
                if self.process.poll() != EXIT_PORT_TAKEN or attempt == PORT_ATTEMPTS - 1:
                    raise
                self.port = _free_port()
                self.executor_endpoint.container_port = self.port
                LOG.info("process executor: invoke port taken, retrying %s on %s", self.id, self.port)
        LOG.debug("process executor: runtime %s ready (runner pid %s)", self.id, self.process.pid)

    def _wait_until_ready(self) -> None:
        """Blocks until the runner reports ready; raises if it reports an error, dies, or takes too long.

        ExecutionEnvironment has its own startup timer (LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT) that calls stop(),
        which cancels the startup future; the deadline here is a backstop slightly after it.
        """
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT + 5
        future = self.executor_endpoint.startup_future
        while True:
            try:
                future.result(timeout=0.05)
                return
            except FutureTimeoutError:
                pass
            except CancelledError as e:
                raise ShutdownDuringStartup(
                    f"execution environment {self.id} was shut down during startup"
                ) from e
            exit_code = self.process.poll() if self.process else None
            if exit_code is not None:
                # the runner may have posted ready/error just before exiting
                if future.done() and not future.cancelled():
                    future.result()
                    return
                raise LambdaRuntimeException(
                    f"Lambda runner for runtime {self.id} exited during startup with code {exit_code}; "
                    f"last output:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise LambdaRuntimeException(
                    f"Lambda runner for runtime {self.id} not ready after "
                    f"{config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT + 5} s; last output:\n{self._log_tail()}"
                )

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            process = self.process
        self._session.close()
        if process is not None:
            self._terminate(process)
        try:
            if self.executor_endpoint.startup_future is not None:
                self.executor_endpoint.shutdown()
        except Exception as e:
            LOG.debug("process executor: error shutting down endpoint of %s: %s", self.id, e)
        self._final_logs = self._read_logs()
        if self.log_path is not None:
            try:
                self.log_path.unlink()
            except OSError:
                pass

    def _terminate(self, process: subprocess.Popen) -> None:
        """Closes stdin (the runner exits on EOF), SIGTERMs the group, SIGKILLs it if still alive."""
        try:
            if process.stdin:
                process.stdin.close()
        except OSError:
            pass
        if process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        # the group may outlive its leader: always make sure nothing of it is left
        self._signal_group(process, signal.SIGKILL)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            LOG.warning("process executor: runner pid %s did not exit after SIGKILL", process.pid)

    @staticmethod
    def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
        try:
            os.killpg(process.pid, sig)  # start_new_session: pgid == pid
        except (ProcessLookupError, PermissionError):
            pass

    # -- addresses -----------------------------------------------------------------------------------------------

    def get_address(self) -> str:
        return HOST

    def get_endpoint_from_executor(self) -> str:
        return HOST

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{HOST}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    # -- invocations and logs ------------------------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        """Sends the invocation and waits in the same request for its end (``POST /invoke?wait=1``).

        LocalStack's own endpoint has the runner call back with the logs and then the result, each a request
        through LocalStack's gateway; every such request costs time on the one interpreter all of LocalStack's
        services share. Here the runner's answer carries both, so an invoke is one loopback request.
        """
        # never log the payload at info level: it may hold user data
        invoke_id = payload.get("invoke-id")
        LOG.debug("process executor: invoke %s on runtime %s", invoke_id, self.id)
        url = f"http://{HOST}:{self.port}/invoke?wait=1"
        try:
            response = self._session.post(
                url, json=payload, timeout=(INVOKE_CONNECT_SECONDS, INVOKE_WAIT_SECONDS)
            )
        except requests.RequestException as e:
            raise InvokeSendError(
                f"invocation {invoke_id} to the Lambda runner of {self.id} at {url} failed: {e}"
            ) from e
        outcome = response.headers.get("x-riv-outcome")
        if response.status_code != 200 or outcome not in ("response", "error"):
            raise InvokeSendError(
                f"the Lambda runner of {self.id} answered invocation {invoke_id} with "
                f"{response.status_code}: {response.text[:200]}"
            )
        body = response.content
        logs_length = int(response.headers.get("x-riv-logs-length", "0"))
        logs = body[:logs_length].decode("utf-8", errors="replace")
        return InvocationResult(
            invoke_id, body[logs_length:], is_error=outcome == "error", logs=logs
        )

    def _read_logs(self) -> str:
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - MAX_LOG_BYTES))
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return self._final_logs or ""

    def _log_tail(self) -> str:
        lines = self._read_logs().splitlines()
        return "\n".join(lines[-ERROR_TAIL_LINES:]) or "(no output)"

    def get_logs(self) -> str:
        if self._final_logs is not None:
            return self._final_logs
        return self._read_logs()

    # -- versions ------------------------------------------------------------------------------------------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        code = function_version.config.code
        if code is None:
            raise LambdaRuntimeException(
                "the process executor runs zip-packaged functions only (no container images)"
            )
        code.prepare_for_execution()  # unzips into get_unzipped_code_location() (mode 0755)
        if function_version.config.layers:
            LOG.warning(
                "process executor: layers of %s are ignored (not supported)",
                function_version.qualified_arn,
            )

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        # The unzipped code is shared between versions and removed by the Lambda provider with the code object.
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            _runner_path()
        except LambdaRuntimeException as e:
            LOG.warning("process executor: %s", e)
            return False
        return True
