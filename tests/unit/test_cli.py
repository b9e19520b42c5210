"""The `postforge` command, called in-process through `main(argv)`."""

import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from postforge import db
from postforge.cli import (
    celery_beat_argv,
    celery_worker_argv,
    child_env,
    main,
    probe_url,
    redact_url,
    web_argv,
)
from postforge.services.identity.passwords import verify_password
from postforge.settings import Settings, get_settings, load_settings
from worker.celery_app import WORKER_QUEUES


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Only the variables a test sets reach settings; the caches are cleared before and after."""
    for name in [name for name in os.environ if name.lower() in Settings.model_fields]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no developer `.env` is read
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield
    get_settings.cache_clear()
    db.get_engine.cache_clear()


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_check_config_with_a_bad_port_exits_2_naming_port(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "abc")

    assert main(["check-config"]) == 2

    captured = capsys.readouterr()
    assert "PORT" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_any_command_with_bad_settings_exits_2_without_traceback(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "http://not-redis")

    assert main(["migrate"]) == 2

    err = capsys.readouterr().err
    assert "REDIS_URL" in err and "Traceback" not in err


def test_check_config_shows_values_but_never_secrets(monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret-value")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2pass@cache.internal:6379/0")
    monkeypatch.setenv("PORT", "4100")

    assert main(["check-config"]) == 0

    out = capsys.readouterr().out
    assert "sk-ant-very-secret-value" not in out and "hunter2pass" not in out
    assert "cache.internal:6379" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert lines["PORT"].split()[-1] == "4100"
    assert lines["ANTHROPIC_API_KEY"].split()[-1] == "set"
    assert "Configuration OK." in out


def test_migrate_creates_the_tables_and_a_second_run_says_up_to_date(database_url, capsys):
    assert main(["migrate"]) == 0
    first = capsys.readouterr().out

    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"users", "workspaces", "posts", "credit_transactions", "alembic_version"} <= tables
    assert "migrated from revision (empty)" in first

    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_seed_prints_credentials_that_sign_in_then_reports_existing(database_url, capsys):
    assert main(["migrate"]) == 0
    capsys.readouterr()

    assert main(["seed"]) == 0
    email, password = _printed_credentials(capsys.readouterr().out)

    assert email == "demo@postforge.local"
    assert verify_password(_stored_hash(database_url, email), password)

    assert main(["seed"]) == 0
    again = capsys.readouterr().out
    assert "already exists, password unchanged" in again
    assert password not in again


def test_seed_reset_password_prints_a_new_working_password(database_url, capsys):
    assert main(["migrate"]) == 0
    assert main(["seed"]) == 0
    _, old_password = _printed_credentials(capsys.readouterr().out)

    assert main(["seed", "--reset-password"]) == 0

    email, new_password = _printed_credentials(capsys.readouterr().out)
    assert new_password != old_password
    assert verify_password(_stored_hash(database_url, email), new_password)
    assert not verify_password(_stored_hash(database_url, email), old_password)


def test_unreachable_database_is_one_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postforge@127.0.0.1:1/nothing")

    assert main(["migrate"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("postforge: database error:") and len(err.strip().splitlines()) == 1


def test_seed_before_migrate_says_to_migrate(database_url, capsys):
    assert main(["seed"]) == 1

    assert "postforge migrate" in capsys.readouterr().err


def test_seed_refuses_production_without_force(monkeypatch, capsys):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postforge@127.0.0.1:1/none")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("SECRET_KEY", "k3J9x0-q8Zb2Lw7Vn4Tc6Yp1Rm5Hs0Ed-long-enough")
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", Fernet.generate_key().decode())

    assert main(["seed"]) == 2

    assert "production" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2


def test_embedded_worker_uses_threads_both_queues_and_configured_concurrency(monkeypatch):
    monkeypatch.setenv("WORKER_CONCURRENCY", "3")
    argv = celery_worker_argv(load_settings(), extra=["--max-tasks-per-child", "50"])

    assert argv[:5] == [sys.executable, "-m", "celery", "-A", "worker.celery_app"]
    assert argv[5] == "worker"
    assert _option(argv, "--queues") == WORKER_QUEUES == "control,default"  # beat's ticks never wait in line
    assert _option(argv, "--concurrency") == "3"
    assert _option(argv, "--pool") == "threads"
    assert argv[-2:] == ["--max-tasks-per-child", "50"]


def test_worker_with_redis_leaves_the_pool_to_celery(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")

    assert "--pool" not in celery_worker_argv(load_settings(), queues="default,publish")
    assert (
        _option(celery_worker_argv(load_settings(), queues="default,publish"), "--queues")
        == "default,publish"
    )


def test_beat_keeps_its_schedule_under_the_data_dir(tmp_path):
    argv = celery_beat_argv(load_settings())

    assert "beat" in argv
    assert Path(_option(argv, "--schedule")).parent == tmp_path / "data"
    assert (tmp_path / "data").is_dir()


def test_web_runs_reflex_in_production_mode_on_one_port_unless_dev(monkeypatch):
    monkeypatch.setenv("PORT", "4100")
    settings = load_settings()

    prod = web_argv(settings)
    assert prod[1:4] == ["-m", "reflex", "run"]
    assert _option(prod, "--env") == "prod"
    assert _option(prod, "--frontend-port") == _option(prod, "--backend-port") == "4100"
    assert web_argv(settings, dev=True)[1:] == ["-m", "reflex", "run"]


def test_child_env_adds_reflex_switches_without_overriding_the_user():
    env = child_env({"PATH": "/usr/bin", "REFLEX_TELEMETRY_ENABLED": "true"})

    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["REFLEX_CHECK_LATEST_VERSION"] == "0"
    assert env["REFLEX_TELEMETRY_ENABLED"] == "true"
    assert env["PATH"].endswith(os.pathsep + "/usr/bin")
    assert str(Path(sys.executable).parent) in env["PATH"].split(os.pathsep)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:4100/"),
        ("0.0.0.0", "http://127.0.0.1:4100/"),
        ("10.1.2.3", "http://10.1.2.3:4100/"),
        ("::", "http://127.0.0.1:4100/"),
        ("::1", "http://[::1]:4100/"),
    ],
)
def test_the_ready_check_probes_the_bind_address_or_loopback(monkeypatch, host, url):
    monkeypatch.setenv("HOST", host)
    monkeypatch.setenv("PORT", "4100")

    assert probe_url(load_settings()) == url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://app:s3cret@db:5432/pf", "postgresql+psycopg://app:***@db:5432/pf"),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("sqlite:///data/postforge.db", "sqlite:///data/postforge.db"),
        ("", ""),
    ],
)
def test_redact_url_hides_only_the_password(url, shown):
    assert redact_url(url) == shown


def _printed_credentials(out: str) -> tuple[str, str]:
    [line] = [line for line in out.splitlines() if "Demo user:" in line]
    email, password = line.split("Demo user:")[1].split("  password:")
    return email.strip(), password.strip()


def _stored_hash(database_url: str, email: str) -> str:
    from sqlmodel import Session, select

    from postforge.models import User

    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.exec(select(User.password_hash).where(User.email == email)).one()
    finally:
        engine.dispose()


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_rotate_token_keys_moves_every_token_to_the_new_key_and_reports_unreadable_ones(
    database_url, monkeypatch, capsys
):
    from cryptography.fernet import Fernet, MultiFernet
    from sqlmodel import Session

    from postforge.services.infra import token_crypto
    from tests.support.factories import make_social_account, make_workspace

    old, new, lost = (Fernet.generate_key().decode() for _ in range(3))
    assert main(["migrate"]) == 0
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            workspace = make_workspace(session)
            kept = make_social_account(
                session,
                workspace,
                access_token_enc=token_crypto.encrypt("a", using=MultiFernet([Fernet(old)])),
            ).id
            make_social_account(
                session,
                workspace,
                access_token_enc=token_crypto.encrypt("b", using=MultiFernet([Fernet(lost)])),
            )
            session.commit()
        monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", f"{new},{old}")
        get_settings.cache_clear()
        capsys.readouterr()
        assert main(["rotate-token-keys"]) == 1  # one account's token is unreadable: said, not hidden
        output = capsys.readouterr()
        assert "Re-encrypted 1 token(s) of 1 account(s)" in output.out
        assert "left untouched" in output.err
        with Session(engine) as session:
            from postforge.models import SocialAccount

            sealed = session.get(SocialAccount, kept).access_token_enc
        assert token_crypto.decrypt(sealed, using=MultiFernet([Fernet(new)])) == "a"
    finally:
        engine.dispose()
