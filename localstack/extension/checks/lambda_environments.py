"""Replays the Lambda environment race against the installed LocalStack, before and after Riv's hook.

Run with the project venv's Python (localstack/launcher/tests/extension.rs does). A cold start adds its new
environment to the function's map while another invocation is still looking through that map for an idle one;
here the first busy environment the search meets adds one, which is that interleaving without threads.
Exits non-zero, saying why, when LocalStack no longer races (the hook can go) or the hook does not help.
"""

import sys

from localstack.services.lambda_.invocation.assignment import (
    AssignmentService,
    InitializationType,
    InvalidStatusException,
)

from riv_localstack import hooks

MANAGER = "riv-check"


class Idle:
    id = "started"
    initialization_type = InitializationType.on_demand

    def reserve(self):
        pass

    def release(self):
        pass


class Busy:
    initialization_type = InitializationType.on_demand

    def __init__(self, on_reserve=None):
        self.on_reserve = on_reserve

    def reserve(self):
        if self.on_reserve:
            self.on_reserve()
            self.on_reserve = None
        raise InvalidStatusException("busy")


def invoke_during_a_cold_start() -> str:
    """What one invocation ends with when another environment is added mid-search."""
    service = AssignmentService()
    started = Idle()
    service.start_environment = lambda _manager, _version: started
    envs = service.environments[MANAGER]
    envs["busy-1"] = Busy(on_reserve=lambda: envs.__setitem__("cold-start", Busy()))
    envs["busy-2"] = Busy()
    try:
        with service.get_environment(MANAGER, None, InitializationType.on_demand) as env:
            return "ok" if env is started else f"got {env!r}"
    except RuntimeError as e:
        return f"RuntimeError: {e}"
    finally:
        service.provisioning_pool.shutdown(wait=False)


def main() -> int:
    before = invoke_during_a_cold_start()
    if not before.startswith("RuntimeError"):
        print(
            f"LocalStack no longer fails an invocation that races a cold start ({before}): "
            "drop riv_lambda_environment_snapshots from riv_localstack/hooks.py",
            file=sys.stderr,
        )
        return 1
    hooks.riv_lambda_environment_snapshots()
    after = invoke_during_a_cold_start()
    if after != "ok":
        print(f"with riv_lambda_environment_snapshots: {after}", file=sys.stderr)
        return 1
    print(f"without the hook: {before}; with it: {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
