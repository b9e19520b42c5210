"""The process supervisor behind `postforge run`, driven with small Python children."""

import io
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from postforge.runner import ChildExit, ProcessGroup

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")

SLEEPER = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(120)"]
# Starts a grandchild that ignores nothing special, prints its pid, then sleeps.
PARENT_OF_SLEEPER = [
    sys.executable,
    "-c",
    "import subprocess, sys, time;"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
    "print('grandchild', p.pid, flush=True); time.sleep(120)",
]


def _running(pid: int) -> bool:
    """True while `pid` exists and has not exited (a zombie awaiting its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
        except (OSError, IndexError):
            return False
    return True


def _wait_for_line(out: io.StringIO, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in out.getvalue().splitlines():
            if text in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no line containing {text!r} within {timeout} s; output so far:\n{out.getvalue()}")


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def group(out):
    processes = ProcessGroup(out=out, poll_interval=0.05)
    yield processes
    processes.stop(timeout=5)


def test_output_is_forwarded_with_the_child_name(group, out):
    group.start("alpha", SLEEPER)
    group.start(
        "beta", [sys.executable, "-c", "print('hello from beta', flush=True); import time; time.sleep(120)"]
    )

    assert _wait_for_line(out, "hello from beta").startswith("beta  | ")
    assert _wait_for_line(out, "ready").startswith("alpha | ")


def test_stop_ends_every_child_and_the_grandchildren(group, out):
    group.start("sleeper", SLEEPER)
    group.start("parent", PARENT_OF_SLEEPER)
    grandchild = int(_wait_for_line(out, "grandchild").split()[-1])
    children = [group.pid("sleeper"), group.pid("parent")]
    assert all(_running(pid) for pid in [*children, grandchild])

    group.stop(timeout=5)

    assert not any(_running(pid) for pid in [*children, grandchild])


def test_a_child_that_exits_is_reported_and_the_others_can_be_stopped(group, out):
    group.start("long", SLEEPER)
    group.start("short", [sys.executable, "-c", "import sys; print('giving up', flush=True); sys.exit(3)"])

    exited = group.wait()

    assert exited == ChildExit("short", 3)
    assert _running(group.pid("long"))
    group.stop(timeout=5)
    assert not _running(group.pid("long"))
    assert "short | giving up" in out.getvalue()


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout(group, out):
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('ignoring', flush=True); time.sleep(120)"
    )
    group.start("stubborn", [sys.executable, "-c", stubborn])
    _wait_for_line(out, "ignoring")

    group.stop(timeout=0.5)

    assert not _running(group.pid("stubborn"))
    assert "did not stop within 0.5 s; killing it" in out.getvalue()


def test_sigterm_to_the_supervisor_makes_wait_return_none(group, out):
    group.start("sleeper", SLEEPER)
    _wait_for_line(out, "ready")

    with group.stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        exited = group.wait()

    assert exited is None
    assert _running(group.pid("sleeper"))  # asking to stop is not stopping: stop() does that
    group.stop(timeout=5)
    assert not _running(group.pid("sleeper"))


def test_two_children_may_not_share_a_name(group):
    group.start("same", SLEEPER)
    with pytest.raises(ValueError, match="same"):
        group.start("same", SLEEPER)


def test_stop_restores_previous_signal_handlers(group):
    before = signal.getsignal(signal.SIGTERM)
    with group.stop_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
