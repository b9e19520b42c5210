"""Start and stop real Celery worker and beat processes for tests.

The processes run `python -m celery -A worker.celery_app …` from the repository root with an
environment of the test's choosing (`celery_env`), write their output to a log file in the
test's tmp_path, and are always stopped: SIGTERM, then SIGKILL if they do not exit in time.
When the body of the `with` block fails, the log is printed so pytest shows it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from worker.celery_app import WORKER_QUEUES

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class CeleryProcess:
    process: subprocess.Popen
    log_path: Path
    name: str  # the worker's node name before `%h` expansion, or "beat"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def celery_env(*, database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a worker or beat reads its settings from (empty `redis_url`: embedded broker)."""
    env = dict(os.environ)
    env.update(
        {
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({key.upper(): value for key, value in extra.items()})
    return env


def unique_worker_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def running_worker(
    env: dict[str, str],
    log_dir: Path,
    *,
    name: str | None = None,
    pool: str = "solo",
    concurrency: int = 1,
    app: str = "worker.celery_app",
) -> Iterator[CeleryProcess]:
    """A `celery worker` on the `control` and `default` queues, ready to take tasks when the block starts.

    `concurrency` is the number of threads or processes of a `threads` or `prefork` pool (the
    benchmark uses more than one; the solo pool always runs one task at a time). `app` is the
    module of the Celery app (a test may wrap the worker's own)."""
    name = name or unique_worker_name()
    args = [
        "worker",
        "-P",
        pool,
        "-c",
        str(concurrency),
        "-Q",
        WORKER_QUEUES,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
        "-l",
        "INFO",
    ]
    with _running(args, env, log_dir / f"worker-{name}.log", name, ready_marker=" ready.", app=app) as worker:
        yield worker


@contextmanager
def running_beat(env: dict[str, str], log_dir: Path) -> Iterator[CeleryProcess]:
    """A `celery beat` with its schedule file in `log_dir`, started when the block begins."""
    schedule = log_dir / "celerybeat-schedule"
    args = ["beat", "-s", str(schedule), "-l", "INFO", "--pidfile="]
    with _running(args, env, log_dir / "beat.log", "beat", ready_marker="beat: Starting") as beat:
        yield beat


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Call `probe` until it returns something other than None; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@contextmanager
def _running(
    args: list[str],
    env: dict[str, str],
    log_path: Path,
    name: str,
    *,
    ready_marker: str,
    app: str = "worker.celery_app",
) -> Iterator[CeleryProcess]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so a stuck child dies with it
        )
    celery = CeleryProcess(process=process, log_path=log_path, name=name)
    try:
        _wait_until_ready(celery, ready_marker)
        yield celery
    except BaseException:
        print(f"----- {log_path.name} -----\n{celery.output()}\n----- end of {log_path.name} -----")
        raise
    finally:
        stop(process)


def _wait_until_ready(celery: CeleryProcess, marker: str) -> None:
    def ready() -> bool | None:
        if celery.process.poll() is not None:
            raise RuntimeError(
                f"celery {celery.name} exited with code {celery.process.returncode} before ready"
            )
        return True if marker in celery.output() else None

    wait_for(ready, timeout=READY_TIMEOUT_SECONDS, what=f"celery {celery.name} to log {marker!r}")


def stop(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM (Celery's warm shutdown), then SIGKILL to the whole group if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Not reaped yet, so its process group id still belongs to the group we created.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
