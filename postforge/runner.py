"""A small supervisor for the processes of the one-command run (web app, worker, beat).

Each child starts in a session (and so a process group) of its own: the terminal's Ctrl-C
reaches only the supervisor, which then stops every group — grandchildren such as the web
server's workers included — first politely (SIGTERM), then for good (SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

_POSIX = hasattr(os, "killpg")


@dataclass(frozen=True)
class ChildExit:
    """A child that ended on its own while the group was meant to be running."""

    name: str
    returncode: int


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[str]
    reader: threading.Thread


class ProcessGroup:
    """Start named children, forward their output with a name prefix, stop them all together."""

    def __init__(self, *, out: TextIO | None = None, poll_interval: float = 0.1) -> None:
        self._out = out or sys.stdout
        self._poll_interval = poll_interval
        self._children: list[_Child] = []
        self._write_lock = threading.Lock()
        # A plain flag, not a threading.Event: a signal handler may run while the main thread
        # holds the Event's lock, and setting it there would deadlock.
        self._stop_requested = False

    @property
    def names(self) -> list[str]:
        return [child.name for child in self._children]

    def pid(self, name: str) -> int:
        return self._child(name).process.pid

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        if any(child.name == name for child in self._children):
            raise ValueError(f"a child named {name!r} is already running")
        process = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=_POSIX,
            creationflags=0 if _POSIX else subprocess.CREATE_NEW_PROCESS_GROUP,  # type: ignore[attr-defined]
        )
        reader = threading.Thread(
            target=self._forward, args=(name, process), name=f"output:{name}", daemon=True
        )
        self._children.append(_Child(name, process, reader))
        reader.start()

    def request_stop(self) -> None:
        """Make `wait()` return; safe to call from a signal handler."""
        self._stop_requested = True

    @contextlib.contextmanager
    def stop_on_signals(self, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
        """While inside, the given signals make `wait()` return instead of killing this process."""
        previous = {sig: signal.signal(sig, lambda _sig, _frame: self.request_stop()) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def wait(self) -> ChildExit | None:
        """Block until a child exits (returned) or a stop was requested (None)."""
        while not self._stop_requested:
            for child in self._children:
                code = child.process.poll()
                if code is not None:
                    return ChildExit(child.name, code)
            time.sleep(self._poll_interval)
        return None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every child's process group, wait up to `timeout` seconds, then SIGKILL what is left."""
        for child in self._children:
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_group_alive(child.process) for child in self._children):
            time.sleep(self._poll_interval)
        for child in self._children:
            if _group_alive(child.process):
                self.say(child.name, f"did not stop within {timeout:g} s; killing it")
                _signal_group(child.process, signal.SIGKILL)
        for child in self._children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
            child.reader.join(timeout=2)

    def _child(self, name: str) -> _Child:
        for child in self._children:
            if child.name == name:
                return child
        raise KeyError(name)

    def _forward(self, name: str, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.say(name, line.rstrip("\n"))
        process.stdout.close()

    def say(self, name: str, line: str) -> None:
        """Write one line under `name`, never interleaved with a child's line."""
        width = max((len(child.name) for child in self._children), default=len(name))
        with self._write_lock:
            self._out.write(f"{name:<{width}} | {line}\n")
            self._out.flush()


def _signal_group(process: subprocess.Popen[str], sig: int) -> None:
    if not _POSIX:
        if process.poll() is None and sig == signal.SIGTERM:
            process.terminate()
        elif process.poll() is None:
            process.kill()
        return
    # The group id is the child's pid (start_new_session); members may outlive the leader.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _group_alive(process: subprocess.Popen[str]) -> bool:
    """True while the child, or anything left in its process group, still runs."""
    if process.poll() is None:
        return True
    if not _POSIX:
        return False
    return _group_has_running_member(process.pid)


def _group_has_running_member(pgid: int) -> bool:
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    # /proc lets zombies (exited, not yet reaped by whoever adopted them) count as gone.
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in {"Z", "X"}:
            return True
    return False
