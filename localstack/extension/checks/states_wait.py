"""Times a Wait state's timestamp against the installed LocalStack, before and after Riv's hook.

Run with the project venv's Python (localstack/launcher/tests/extension.rs does). The wait is for a timestamp
1.5 to 1.9 s ahead; Step Functions waits until it, LocalStack 4.14 waits the whole seconds of that, 1 s. Exits non-zero, saying why,
when LocalStack waits to the instant by itself (the hook can go) or the hook does not make it.
"""

import datetime
import importlib.metadata
import sys
import threading
import time

from localstack.services.stepfunctions.asl.component.common.string.string_expression import (
    StringLiteral,
)
from localstack.services.stepfunctions.asl.component.state.state_wait.wait_function.timestamp import (
    Timestamp,
)

from riv_localstack import hooks

class Env:
    """What the wait function touches of an execution's environment."""

    def __init__(self):
        self.stack = []
        self.program_state_event = threading.Event()
        self.next_field_name = None

    def is_running(self):
        return True


def waited() -> float:
    # Start 0.1 to 0.5 s past a whole second and wait for the second after next: 1.5 to 1.9 s ahead, a whole
    # second as Riv writes them. Truncating waits 1 s, at least 0.5 s too little; a start just before a whole
    # second would make the truncation look exact (2.01 s ahead waits 2 s) and the check flaky.
    while not 0.1 <= time.time() % 1 <= 0.5:
        time.sleep(0.02)
    due = datetime.datetime.fromtimestamp(int(time.time()) + 2, datetime.timezone.utc)
    wait = Timestamp(StringLiteral(due.strftime("%Y-%m-%dT%H:%M:%SZ")))
    env = Env()
    wait._eval_body(env)
    late = time.time() - due.timestamp()
    assert not env.stack, f"the wait left {env.stack} on the stack"
    return late


def registered() -> bool:
    """Whether LocalStack will run the hook: plux finds hooks through the installed entry points."""
    hooks_group = importlib.metadata.entry_points(group="localstack.hooks.on_infra_start")
    return any(e.name == "riv_states_wait_until_the_instant" for e in hooks_group)


def main() -> int:
    if not registered():
        print(
            "riv_states_wait_until_the_instant is not an installed entry point of localstack.hooks.on_infra_start: "
            "list it in localstack/extension/pyproject.toml",
            file=sys.stderr,
        )
        return 1
    before = waited()
    if before > -0.05:
        print(
            f"LocalStack now waits until the timestamp by itself (ended {before:+.2f} s from it): "
            "drop riv_states_wait_until_the_instant from riv_localstack/hooks.py",
            file=sys.stderr,
        )
        return 1
    hooks.riv_states_wait_until_the_instant()
    after = waited()
    if not -0.05 <= after <= 0.3:
        print(f"with riv_states_wait_until_the_instant the wait ended {after:+.2f} s from its timestamp", file=sys.stderr)
        return 1
    print(f"without the hook the wait ended {before:+.2f} s from its timestamp; with it {after:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
