"""Settings: embedded defaults, and a clear, named error for every bad value."""

import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from postforge.settings import DEV_SECRET_KEY, Settings, SettingsError, load_settings

PRODUCTION = {
    "ENVIRONMENT": "production",
    "DATABASE_URL": "postgresql+psycopg://postforge:pw@db.internal:5432/postforge",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "k3J9x0-q8Zb2Lw7Vn4Tc6Yp1Rm5Hs0Ed",
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable from the developer's shell or CI, and no `.env` file, reaches these tests."""
    # Names are matched case-insensitively, so `database_url=` in a shell would count too.
    for name in [name for name in os.environ if name.lower() in Settings.model_fields]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # env_file=".env" is relative to the working directory


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def settings_error(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> str:
    set_env(monkeypatch, values)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    return str(caught.value)


# Defaults ------------------------------------------------------------------------------


def test_defaults_are_the_embedded_mode() -> None:
    settings = load_settings()

    assert settings.environment == "embedded"
    assert settings.embedded
    assert settings.sync_database_url == f"sqlite:///{settings.data_dir / 'postforge.db'}"
    assert settings.async_database_url == f"sqlite+aiosqlite:///{settings.data_dir / 'postforge.db'}"
    assert settings.celery_broker_url == f"sqla+sqlite:///{settings.data_dir / 'broker.db'}"
    assert settings.celery_result_backend.startswith("db+sqlite:///")
    assert settings.ai_provider == "offline"
    assert settings.checkout_mode == "sandbox"
    assert settings.sandbox_platform_enabled
    assert settings.encryption_keys == []


def test_data_dir_moves_every_embedded_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))

    settings = load_settings()

    assert settings.sync_database_url == f"sqlite:///{tmp_path / 'elsewhere' / 'postforge.db'}"
    assert settings.celery_broker_url == f"sqla+sqlite:///{tmp_path / 'elsewhere' / 'broker.db'}"


def test_a_dotenv_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    # The reason the autouse fixture changes directory: this file would otherwise be the developer's.
    (tmp_path / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-from-dotenv\n", encoding="utf-8")

    assert load_settings().ai_provider == "anthropic"


def test_keys_switch_to_the_real_services(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        {
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "STRIPE_SECRET_KEY": "sk_test_123",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
    )

    settings = load_settings()

    assert settings.ai_provider == "anthropic"
    assert settings.checkout_mode == "stripe"
    assert not settings.embedded
    assert settings.celery_broker_url == "redis://127.0.0.1:6379/0"
    assert settings.celery_result_backend == "redis://127.0.0.1:6379/0"


# Database URL --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_plain_postgres_urls_get_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{scheme}://app:pw@db.example.com:5432/postforge")

    settings = load_settings()

    assert settings.database_url == "postgresql+psycopg://app:pw@db.example.com:5432/postforge"
    assert settings.sync_database_url == settings.database_url
    assert settings.async_database_url == settings.database_url  # psycopg 3 serves both


def test_a_sqlite_database_url_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'custom.db'}"
    monkeypatch.setenv("DATABASE_URL", url)

    settings = load_settings()

    assert settings.sync_database_url == url
    assert settings.async_database_url == f"sqlite+aiosqlite:///{tmp_path / 'custom.db'}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://app:pw@db.example.com/postforge", "sqlite:/// or postgresql+psycopg://"),
        ("not a url at all", "sqlite:/// or postgresql+psycopg://"),
        ("sqlitefile.db", "sqlite:/// or postgresql+psycopg://"),
        ("postgresql+asyncpg://app:pw@db.example.com/postforge", "psycopg 3"),
        ("postgresql+psycopg2://app:pw@db.example.com/postforge", "psycopg 3"),
        ("postgresql+psycopg://", "host or a database name"),
        ("postgresql://app:pw@db.example.com:port/postforge", "not a valid database URL"),
    ],
)
def test_bad_database_urls_are_refused(monkeypatch: pytest.MonkeyPatch, url: str, reason: str) -> None:
    message = settings_error(monkeypatch, {"DATABASE_URL": url})

    assert "DATABASE_URL" in message
    assert reason in message


def test_a_refused_database_url_does_not_echo_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(monkeypatch, {"DATABASE_URL": "mysql://app:hunter2-secret@db/postforge"})

    assert "hunter2-secret" not in message


# Every other malformed value names its variable ----------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REDIS_URL", "localhost"),
        ("APP_URL", "not a url"),
        ("APP_URL", "ftp://example.com"),
        ("ANTHROPIC_BASE_URL", "api.anthropic.com"),
        ("STRIPE_API_BASE", "stripe"),
        ("PORT", "abc"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("WORKER_CONCURRENCY", "0"),
        ("WORKER_CONCURRENCY", "many"),
        ("HEARTBEAT_INTERVAL_SECONDS", "0"),
        ("ANTHROPIC_TIMEOUT_SECONDS", "-1"),
        ("ANTHROPIC_MAX_TOKENS", "10"),
        ("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "-5"),
        ("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "0"),  # 0 would switch the signature age check off
        ("TOKEN_ENCRYPTION_KEYS", "notakey"),
        ("ENVIRONMENT", "staging"),
        ("SMTP_URL", "http://mail.example.com"),
        ("LOG_LEVEL", "LOUD"),
        ("SANDBOX_PLATFORM_ENABLED", "perhaps"),
        ("DISPATCH_INTERVAL_SECONDS", "0"),
        ("DISPATCH_BATCH_SIZE", "lots"),
        ("PUBLISH_MAX_ATTEMPTS", "0"),
        ("PUBLISH_LEASE_SECONDS", "1"),
        ("METRICS_INTERVAL_MINUTES", "0"),
        ("METRICS_INTERVAL_MINUTES", "hourly"),
        ("METRICS_WINDOW_DAYS", "-1"),
        ("METRICS_WINDOW_DAYS", "365"),
        ("METRICS_BATCH_SIZE", "0"),
    ],
)
def test_malformed_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    message = settings_error(monkeypatch, {variable: value})

    assert variable in message


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(monkeypatch, {"PORT": "abc", "REDIS_URL": "http://x", "LOG_LEVEL": "LOUD"})

    for variable in ("PORT", "REDIS_URL", "LOG_LEVEL"):
        assert variable in message


def test_a_bad_key_among_good_ones_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    good = Fernet.generate_key().decode()

    message = settings_error(monkeypatch, {"TOKEN_ENCRYPTION_KEYS": f"{good},notakey"})

    assert "TOKEN_ENCRYPTION_KEYS" in message


def test_several_encryption_keys_are_kept_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    newest, older = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", f" {newest} , {older} ")

    assert load_settings().encryption_keys == [newest, older]


def test_log_level_accepts_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")

    assert load_settings().log_level == "DEBUG"


# Production ----------------------------------------------------------------------------


def test_a_complete_production_config_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, PRODUCTION)

    settings = load_settings()

    assert settings.environment == "production"
    assert not settings.embedded
    assert settings.sync_database_url == PRODUCTION["DATABASE_URL"]
    assert settings.celery_broker_url == PRODUCTION["REDIS_URL"]


@pytest.mark.parametrize("variable", ["DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"])
def test_production_requires(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    set_env(monkeypatch, {name: value for name, value in PRODUCTION.items() if name != variable})

    message = settings_error(monkeypatch, {})

    assert variable in message
    others = set(PRODUCTION) - {variable, "ENVIRONMENT"}
    assert not any(f"{other}:" in message for other in others), message


def test_production_names_everything_missing_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = settings_error(monkeypatch, {"ENVIRONMENT": "production"})

    for variable in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"):
        assert variable in message


def test_production_refuses_a_sqlite_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    message = settings_error(monkeypatch, {**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})

    assert "DATABASE_URL" in message


@pytest.mark.parametrize(
    "secret",
    [DEV_SECRET_KEY, "changethis", "CHANGE-ME", "secret", "short-but-random-9f3k", "   "],
)
def test_production_refuses_placeholder_or_short_secret_keys(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    message = settings_error(monkeypatch, {**PRODUCTION, "SECRET_KEY": secret})

    assert "SECRET_KEY" in message


def test_embedded_mode_accepts_the_development_secret() -> None:
    assert load_settings().secret_key == DEV_SECRET_KEY
