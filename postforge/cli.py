"""The `postforge` command: migrate, seed the demo, manage system admins, check the configuration, run
worker/beat or everything.

`postforge run` is the embedded one-command start: it migrates, seeds the demo user, then
starts the web app, a Celery worker and Celery beat and supervises them until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from postforge.settings import (
    DEV_SECRET_KEY,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    get_settings,
    load_settings,
)

if TYPE_CHECKING:
    from alembic.config import Config

    from postforge.runner import ProcessGroup

CELERY_APP = "worker.celery_app"
DEFAULT_QUEUES = "control,default"  # worker.celery_app.WORKER_QUEUES (importing it would start Celery)
STOP_TIMEOUT_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 900.0  # the first production start builds the frontend, which takes a while
BUN_BIN_DIR = PROJECT_ROOT / ".tools" / "bun" / "node_modules" / ".bin"
REFLEX_ENV = {
    "REFLEX_TELEMETRY_ENABLED": "false",
    "REFLEX_CHECK_LATEST_VERSION": "0",
    "REFLEX_HTTP_CLIENT_BIND_ADDRESS": "0.0.0.0",  # noqa: S104 — Reflex's outgoing client, not a listener
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SettingsError as error:
        print(f"postforge: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        print(f"postforge: database error: {_first_line(error.orig or error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postforge", description="Run and manage PostForge.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="upgrade the database schema to the newest revision")
    migrate.set_defaults(handler=cmd_migrate)

    seed = commands.add_parser("seed", help="create the demo user and its example data (once)")
    seed.add_argument(
        "--reset-password", action="store_true", help="give the existing demo user a new password"
    )
    seed.add_argument("--force", action="store_true", help="seed even when ENVIRONMENT=production")
    seed.set_defaults(handler=cmd_seed)

    check = commands.add_parser("check-config", help="validate the settings and show the non-secret values")
    check.set_defaults(handler=cmd_check_config)

    rotate = commands.add_parser(
        "rotate-token-keys",
        help="re-encrypt stored account tokens under the newest TOKEN_ENCRYPTION_KEYS key",
    )
    rotate.set_defaults(handler=cmd_rotate_token_keys)

    admin = commands.add_parser(
        "admin", help="grant or revoke the system admin flag (the console's only door)"
    )
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    for action, what in (("grant", "make EMAIL a system admin"), ("revoke", "take the flag from EMAIL")):
        sub = admin_commands.add_parser(action, help=what)
        sub.add_argument("email", metavar="EMAIL", help="the account's email address")
        sub.set_defaults(handler=cmd_admin, admin_action=action)

    for name, handler, what in (("worker", cmd_worker, "a Celery worker"), ("beat", cmd_beat, "Celery beat")):
        sub = commands.add_parser(name, help=f"run {what} (extra Celery arguments after --)")
        sub.add_argument("celery_args", nargs="*", help="passed on to Celery")
        if name == "worker":
            sub.add_argument("--queues", default=DEFAULT_QUEUES, help="comma-separated queues to consume")
        sub.set_defaults(handler=handler)

    run = commands.add_parser("run", help="migrate, seed, and run web app + worker + beat together")
    run.add_argument("--dev", action="store_true", help="run the web app in development mode (hot reload)")
    run.add_argument("--no-seed", action="store_true", help="do not create the demo user")
    run.set_defaults(handler=cmd_run)
    return parser


# --- migrate ---------------------------------------------------------------------------


def cmd_migrate(_args: argparse.Namespace) -> int:
    migrate_database(get_settings())
    return 0


def migrate_database(settings: Settings) -> None:
    from alembic import command

    url = settings.sync_database_url
    before = _current_revision(url)
    command.upgrade(_alembic_config(url), "head")
    after = _current_revision(url)
    where = redact_url(url)
    if before == after:
        print(f"Database {where} is up to date (revision {after}).")
    else:
        print(f"Database {where} migrated from revision {before or '(empty)'} to {after}.")
    added = seed_reference_data(url)
    if added:
        print(f"Pricing plans: added {added} standard plan{'s' if added != 1 else ''}.")


def seed_reference_data(url: str) -> int:
    """Rows the product needs in every database (the standard pricing plans); existing ones stay."""
    from postforge.db import make_engine, session_scope
    from postforge.services.payments.billing import seed_plans

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return seed_plans(session)
    finally:
        engine.dispose()


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = url
    return config


def _current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from postforge.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


# --- seed ------------------------------------------------------------------------------


def cmd_seed(args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.environment == "production" and not args.force:
        print(
            "postforge: refusing to create a demo user in production (add --force to do it anyway)",
            file=sys.stderr,
        )
        return 2
    return seed_database(settings, reset_password=args.reset_password)


def seed_database(settings: Settings, *, reset_password: bool = False) -> int:
    from postforge.db import make_engine, session_scope
    from postforge.services.operations.demo import seed_demo

    engine = make_engine(settings.sync_database_url)
    try:
        if not inspect(engine).has_table("users"):
            print("postforge: the database has no tables yet; run `postforge migrate` first", file=sys.stderr)
            return 1
        with session_scope(engine) as session:
            result = seed_demo(session, reset_password=reset_password)
    finally:
        engine.dispose()
    if result.password:
        _print_banner(f"Demo user: {result.email}  password: {result.password}")
    else:
        print(
            f"Demo user: {result.email} already exists, password unchanged "
            "(`postforge seed --reset-password` sets a new one)."
        )
    return 0


def _print_banner(line: str) -> None:
    rule = "=" * (len(line) + 4)
    print(f"\n{rule}\n  {line}\n{rule}\n", flush=True)


# --- admin -----------------------------------------------------------------------------


def cmd_admin(args: argparse.Namespace) -> int:
    """`postforge admin grant|revoke EMAIL`: only someone on the server can make an admin."""
    from postforge.db import make_engine, session_scope
    from postforge.services.admin_console import admins
    from postforge.services.kernel.errors import ServiceError

    engine = make_engine(get_settings().sync_database_url)
    try:
        with session_scope(engine) as session:
            change = admins.grant if args.admin_action == "grant" else admins.revoke
            message = change(session, args.email)
    except ServiceError as error:
        print(f"postforge: {error.message}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(message)
    return 0


# --- rotate-token-keys -----------------------------------------------------------------


def cmd_rotate_token_keys(_args: argparse.Namespace) -> int:
    from postforge.db import make_engine, session_scope
    from postforge.services.infra import token_crypto

    settings = get_settings()
    engine = make_engine(settings.sync_database_url)
    try:
        with session_scope(engine) as session:
            report = token_crypto.rotate_all(session, using=token_crypto.cipher(settings))
    finally:
        engine.dispose()
    print(f"Re-encrypted {report.tokens} token(s) of {report.accounts} account(s) under the newest key.")
    if report.unreadable_account_ids:
        ids = ", ".join(str(i) for i in report.unreadable_account_ids)
        print(
            f"postforge: {len(report.unreadable_account_ids)} account(s) have tokens no configured key can read "
            f"(ids {ids}); they were left untouched. Restore the key that sealed them, or reconnect them.",
            file=sys.stderr,
        )
        return 1
    return 0


# --- check-config ----------------------------------------------------------------------


def cmd_check_config(_args: argparse.Namespace) -> int:
    settings = load_settings()  # not the cached copy: this command is about the environment as it is now
    rows = config_rows(settings)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print("\nConfiguration OK.")
    return 0


def config_rows(settings: Settings) -> list[tuple[str, str]]:
    """(VARIABLE, shown value) for every setting; secrets only say whether they are set."""
    rows = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if _is_secret(name):
            shown = _describe_secret(name, value)
        elif name.endswith("_url"):
            shown = redact_url(value) or "(empty)"
        else:
            shown = str(value) if value != "" else "(empty)"
        rows.append((name.upper(), shown))
    rows += [
        ("→ mode", "embedded (no servers needed)" if settings.embedded else "servers (Redis broker)"),
        ("→ database", redact_url(settings.sync_database_url)),
        ("→ celery broker", redact_url(settings.celery_broker_url)),
        ("→ AI provider", settings.ai_provider),
        ("→ checkout", settings.checkout_mode),
    ]
    return rows


def _is_secret(name: str) -> bool:
    return name.endswith(("_key", "_keys", "_secret"))


def _describe_secret(name: str, value: str) -> str:
    if name == "secret_key" and value == DEV_SECRET_KEY:
        return "(development default — not for production)"
    return "set" if value.strip() else "(not set)"


def redact_url(url: str) -> str:
    """`url` with any password replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


# --- worker and beat -------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    return _exec(celery_worker_argv(get_settings(), queues=args.queues, extra=args.celery_args))


def cmd_beat(args: argparse.Namespace) -> int:
    return _exec(celery_beat_argv(get_settings(), extra=args.celery_args))


def celery_worker_argv(
    settings: Settings, *, queues: str = DEFAULT_QUEUES, extra: Sequence[str] = ()
) -> list[str]:
    argv = [
        *_celery(),
        "worker",
        "--loglevel",
        settings.log_level,
        "--queues",
        queues,
        "--hostname",
        "default@%h",
        "--concurrency",
        str(settings.worker_concurrency),
    ]
    if settings.embedded:
        # Tasks wait on the network, not the CPU; threads share one SQLite broker connection
        # pool, and the SQLite broker has no fan-out for gossip/mingle to use.
        argv += ["--pool", "threads", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return [*argv, *extra]


def celery_beat_argv(settings: Settings, *, extra: Sequence[str] = ()) -> list[str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    schedule = settings.data_dir / "celerybeat-schedule"
    return [*_celery(), "beat", "--loglevel", settings.log_level, "--schedule", str(schedule), *extra]


def _celery() -> list[str]:
    return [sys.executable, "-m", "celery", "-A", CELERY_APP]


def _exec(argv: list[str]) -> int:
    print("+ " + " ".join(argv[1:]), flush=True)
    sys.stderr.flush()
    if os.name != "posix":
        return subprocess.call(argv)
    os.execv(argv[0], argv)  # noqa: S606 — replaces this process with Celery; argv is ours
    return 0  # not reached


# --- run -------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from postforge.runner import ProcessGroup

    # The web app reads rxconfig.py from here, and every child must read the same `.env`.
    os.chdir(PROJECT_ROOT)
    settings = get_settings()
    print(f"PostForge is starting at {settings.app_url} …", flush=True)
    migrate_database(settings)
    if args.no_seed:
        print("Demo data: skipped (--no-seed).")
    elif settings.environment == "production":
        print("Demo data: skipped (ENVIRONMENT=production).")
    elif seed_database(settings) != 0:
        return 1

    env = child_env(os.environ)
    group = ProcessGroup()
    ready_stop = threading.Event()
    exited = None
    with group.stop_on_signals():
        try:
            group.start("web", web_argv(settings, dev=args.dev), env, cwd=PROJECT_ROOT)
            group.start("worker", celery_worker_argv(settings), env, cwd=PROJECT_ROOT)
            group.start("beat", celery_beat_argv(settings), env, cwd=PROJECT_ROOT)
            _announce_when_up(group, settings, ready_stop)
            exited = group.wait()
        finally:
            ready_stop.set()
            group.say("postforge", "stopping …")
            group.stop(timeout=STOP_TIMEOUT_SECONDS)
    if exited is not None:
        print(
            f"postforge: the {exited.name} process exited with code {exited.returncode}; "
            "stopped the others. Its output above says why.",
            file=sys.stderr,
        )
        return 1
    print("PostForge stopped.")
    return 0


def web_argv(settings: Settings, *, dev: bool = False) -> list[str]:
    argv = [sys.executable, "-m", "reflex", "run"]
    if dev:
        return argv
    # Production mode serves the built frontend from the backend: one port for both.
    port = str(settings.port)
    return [*argv, "--env", "prod", "--frontend-port", port, "--backend-port", port]


def child_env(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of every child: ours, plus unbuffered output, Reflex switches and bun on PATH."""
    env = dict(base)
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the console as they are written
    for name, value in REFLEX_ENV.items():
        env.setdefault(name, value)
    extra_path = [str(Path(sys.executable).parent)]
    if BUN_BIN_DIR.is_dir():
        extra_path.insert(0, str(BUN_BIN_DIR))
    env["PATH"] = os.pathsep.join([*extra_path, env.get("PATH", "")])
    if shutil.which("bun", path=env["PATH"]):
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    return env


def _announce_when_up(group: ProcessGroup, settings: Settings, stop: threading.Event) -> None:
    url = probe_url(settings)

    def poll() -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not stop.is_set() and time.monotonic() < deadline:
            if _answers(url):
                group.say("postforge", f"PostForge is up: open {settings.app_url}")
                return
            stop.wait(1.0)
        if not stop.is_set():
            group.say("postforge", f"the web app still does not answer on port {settings.port}")

    threading.Thread(target=poll, name="ready-check", daemon=True).start()


def probe_url(settings: Settings) -> str:
    """Where this machine can reach the web app: its bind address, or loopback for a wildcard bind."""
    host = settings.host or "127.0.0.1"
    if host in {"0.0.0.0", "::"}:  # noqa: S104 — comparing, not binding
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/"


def _answers(url: str) -> bool:
    # No proxies: an http_proxy in the environment must not answer for our own server.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is listening
    except (urllib.error.URLError, OSError):
        return False


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [error.__class__.__name__])[0]


if __name__ == "__main__":
    raise SystemExit(main())
