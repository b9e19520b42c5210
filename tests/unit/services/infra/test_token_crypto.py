"""Tokens at rest: ciphertext only, readable after key rotation, never silently lost."""

import stat

import pytest
from cryptography.fernet import Fernet, MultiFernet
from sqlmodel import Session, select

from postforge.models import SocialAccount
from postforge.services.infra import token_crypto
from postforge.settings import load_settings
from tests.support.factories import make_social_account, make_workspace


def fernet(*keys: str) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_token_round_trips_and_the_ciphertext_does_not_contain_it():
    sealed = token_crypto.encrypt("secret-access-token", using=fernet(OLD))
    assert "secret-access-token" not in sealed
    assert token_crypto.decrypt(sealed, using=fernet(OLD)) == "secret-access-token"
    assert token_crypto.encrypt("", using=fernet(OLD)) is None
    assert token_crypto.decrypt(None, using=fernet(OLD)) is None


def test_a_token_sealed_with_a_removed_key_is_reported_not_returned_as_garbage():
    sealed = token_crypto.encrypt("t", using=fernet(OLD))
    with pytest.raises(token_crypto.TokenUnreadable, match="Restore the previous key"):
        token_crypto.decrypt(sealed, using=fernet(NEW))


def test_rotation_reencrypts_every_token_under_the_newest_key(sqlite_engine):
    with Session(sqlite_engine) as session:
        workspace = make_workspace(session)
        for n in range(3):
            make_social_account(
                session,
                workspace,
                access_token_enc=token_crypto.encrypt(f"access-{n}", using=fernet(OLD)),
                refresh_token_enc=token_crypto.encrypt(f"refresh-{n}", using=fernet(OLD)) if n else None,
            )
        report = token_crypto.rotate_all(session, using=fernet(NEW, OLD), batch_size=2)
        session.commit()
        assert (report.accounts, report.tokens, report.unreadable_account_ids) == (3, 5, [])
        rows = session.exec(select(SocialAccount).order_by(SocialAccount.id)).all()
        # After rotation the new key alone reads everything; the old key is no longer needed.
        assert [token_crypto.decrypt(r.access_token_enc, using=fernet(NEW)) for r in rows] == [
            "access-0",
            "access-1",
            "access-2",
        ]
        assert token_crypto.decrypt(rows[2].refresh_token_enc, using=fernet(NEW)) == "refresh-2"
        with pytest.raises(token_crypto.TokenUnreadable):
            token_crypto.decrypt(rows[0].access_token_enc, using=fernet(OLD))


def test_rotation_leaves_unreadable_tokens_in_place_and_names_their_accounts(sqlite_engine):
    stray = Fernet.generate_key().decode()
    with Session(sqlite_engine) as session:
        workspace = make_workspace(session)
        lost = make_social_account(
            session, workspace, access_token_enc=token_crypto.encrypt("x", using=fernet(stray))
        )
        before = lost.access_token_enc
        report = token_crypto.rotate_all(session, using=fernet(NEW, OLD))
        session.commit()
        assert report.unreadable_account_ids == [lost.id]
        assert session.get(SocialAccount, lost.id).access_token_enc == before


def test_embedded_mode_generates_one_private_key_file_and_reuses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", "")
    settings = load_settings()
    first = token_crypto.keys(settings)
    again = token_crypto.keys(settings)
    assert first == again and len(first) == 1
    key_file = tmp_path / token_crypto.EMBEDDED_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = token_crypto.encrypt("t", using=token_crypto.cipher(settings))
    assert token_crypto.decrypt(sealed, using=token_crypto.cipher(load_settings())) == "t"


def test_configured_keys_win_over_the_embedded_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", f"{NEW},{OLD}")
    assert token_crypto.keys(load_settings()) == [NEW, OLD]
    assert not (tmp_path / token_crypto.EMBEDDED_KEY_FILE).exists()
