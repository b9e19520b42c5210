"""Outgoing mail: always an outbox row; with SMTP a delivery after commit whose outcome is recorded."""

import base64
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from postforge.models import OutboxMessage, utcnow
from postforge.services.infra import mail
from postforge.services.kernel.errors import ValidationFailed
from postforge.settings import get_settings


@pytest.fixture(autouse=True)
def outbox_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SMTP_URL", "")
    monkeypatch.setenv("MAIL_FROM", "PostForge <noreply@postforge.test>")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def use_smtp(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SMTP_URL", url)
    get_settings.cache_clear()


def outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


# A small SMTP server on loopback: enough of RFC 5321 for smtplib, AUTH PLAIN included.


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes


@dataclass
class FakeSmtp:
    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class _SmtpHandler(socketserver.StreamRequestHandler):
    timeout = 5  # a stuck client never holds the test

    def handle(self) -> None:
        server: FakeSmtp = self.server.fake  # type: ignore[attr-defined]
        self.reply("220 fake.test ESMTP")
        mail_from, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in {"EHLO", "HELO"}:
                self.reply("250-fake.test\r\n250-AUTH PLAIN\r\n250 8BITMIME")
            elif verb == "AUTH":
                credentials = base64.b64decode(command.split()[2]).split(b"\0")
                server.logins.append(f"{credentials[1].decode()}:{credentials[2].decode()}")
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                mail_from, recipients = command[10:].strip("<>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command[8:].strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                server.messages.append(Received(mail_from, recipients, self.read_data()))
                self.reply("250 OK queued")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")

    def read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in {b".\r\n", b""}:
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")


@pytest.fixture
def smtp_server() -> Iterator[FakeSmtp]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    fake = FakeSmtp(port=server.server_address[1])
    server.fake = fake  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Without SMTP: the outbox is the inbox ------------------------------------------------------


def test_without_smtp_the_message_is_an_outbox_row_and_a_console_line(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="postforge.services.infra.mail")
    with Session(sqlite_engine) as session:
        mail.send_mail(session, to="ada@example.com", subject="Hello there", body="Line one\nLine two")
        session.commit()

    [row] = outbox(sqlite_engine)
    assert (row.to_address, row.subject, row.body_text) == (
        "ada@example.com",
        "Hello there",
        "Line one\nLine two",
    )
    assert row.sent_at is None and row.error == ""
    assert "mail to ada@example.com: Hello there" in caplog.text
    assert "Line one" not in caplog.text  # bodies carry links with secrets: never in the log


def test_a_rolled_back_transaction_leaves_no_message(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        mail.send_mail(session, to="ada@example.com", subject="Hi", body="x")
        session.rollback()

    assert outbox(sqlite_engine) == []


@pytest.mark.parametrize(
    ("to", "subject", "body", "field"),
    [
        ("", "Hi", "x", "to"),
        ("not-an-address", "Hi", "x", "to"),
        ("ada@", "Hi", "x", "to"),
        ("ada@example.com\r\nBcc: eve@example.com", "Hi", "x", "to"),
        ("ada smith@example.com", "Hi", "x", "to"),
        ("a" * 320 + "@example.com", "Hi", "x", "to"),
        (None, "Hi", "x", "to"),
        ("ada@example.com", "", "x", "subject"),
        ("ada@example.com", "   ", "x", "subject"),
        ("ada@example.com", "Hi\r\nBcc: eve@example.com", "x", "subject"),
        ("ada@example.com", "s" * 256, "x", "subject"),
        ("ada@example.com", "Hi", None, "body"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    sqlite_engine: Engine, to: str, subject: str, body: str, field: str
) -> None:
    with Session(sqlite_engine) as session:
        with pytest.raises(ValidationFailed) as refused:
            mail.send_mail(session, to=to, subject=subject, body=body)
        session.commit()

    assert refused.value.field == field
    assert refused.value.message
    assert outbox(sqlite_engine) == []


def test_list_outbox_is_newest_first_and_limited(sqlite_engine: Engine) -> None:
    start = utcnow()
    with Session(sqlite_engine) as session:
        for number in range(5):
            session.add(
                OutboxMessage(
                    to_address=f"user{number}@example.com",
                    subject=f"Message {number}",
                    body_text="x",
                    created_at=start + timedelta(seconds=number),
                )
            )
        session.commit()

    with Session(sqlite_engine) as session:
        items = mail.list_outbox(session, limit=3)

    assert [item.subject for item in items] == ["Message 4", "Message 3", "Message 2"]
    assert items[0].to == "user4@example.com" and items[0].sent_at is None


# With SMTP: delivered after commit, outcome recorded ----------------------------------------


def test_with_smtp_the_mail_goes_out_after_commit_and_the_row_records_it(
    sqlite_engine: Engine, smtp_server: FakeSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_smtp(monkeypatch, f"smtp://mailer:s%40cret@127.0.0.1:{smtp_server.port}")

    with Session(sqlite_engine) as session:
        mail.send_mail(session, to="ada@example.com", subject="Reset your password", body="Follow the link")
        assert smtp_server.messages == []  # nothing leaves before the caller commits
        session.commit()

    [received] = smtp_server.messages
    assert received.recipients == ["ada@example.com"]
    assert received.mail_from == "noreply@postforge.test"
    parsed = message_from_bytes(received.data, policy=policy.default)
    assert parsed["Subject"] == "Reset your password"
    assert parsed["From"] == "PostForge <noreply@postforge.test>"
    assert parsed.get_content().strip() == "Follow the link"
    assert smtp_server.logins == ["mailer:s@cret"]
    [row] = outbox(sqlite_engine)
    assert row.sent_at is not None and row.error == ""


def test_with_smtp_a_rollback_sends_nothing(
    sqlite_engine: Engine, smtp_server: FakeSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_smtp(monkeypatch, f"smtp://127.0.0.1:{smtp_server.port}")

    with Session(sqlite_engine) as session:
        mail.send_mail(session, to="ada@example.com", subject="Hi", body="x")
        session.rollback()
        mail.send_mail(session, to="grace@example.com", subject="Second", body="y")
        session.commit()

    assert [message.recipients for message in smtp_server.messages] == [["grace@example.com"]]
    assert [row.to_address for row in outbox(sqlite_engine)] == ["grace@example.com"]


def test_a_failed_delivery_is_recorded_on_the_row_not_lost(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_smtp(monkeypatch, f"smtp://127.0.0.1:{closed_port()}")

    with Session(sqlite_engine) as session:
        mail.send_mail(session, to="ada@example.com", subject="Hi", body="keep me")
        session.commit()  # the caller's transaction is not undone by the failed delivery

    [row] = outbox(sqlite_engine)
    assert row.body_text == "keep me"
    assert row.sent_at is None
    assert "ConnectionRefusedError" in row.error


def test_deliver_pending_sends_what_a_crash_left_behind(
    sqlite_engine: Engine, smtp_server: FakeSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(sqlite_engine) as session:
        # Committed while SMTP was off (or before a crash): never tried.
        mail.send_mail(session, to="ada@example.com", subject="Pending", body="x")
        session.add(
            OutboxMessage(
                to_address="old@example.com",
                subject="Too old",
                body_text="x",
                created_at=utcnow() - timedelta(hours=2),
            )
        )
        session.add(
            OutboxMessage(to_address="bad@example.com", subject="Failed", body_text="x", error="boom")
        )
        session.commit()
    use_smtp(monkeypatch, f"smtp://127.0.0.1:{smtp_server.port}")

    assert mail.deliver_pending(sqlite_engine) == 1
    assert mail.deliver_pending(sqlite_engine) == 0  # a sent message is not sent twice

    assert [message.recipients for message in smtp_server.messages] == [["ada@example.com"]]
    sent = {row.subject: row.sent_at is not None for row in outbox(sqlite_engine)}
    assert sent == {"Pending": True, "Too old": False, "Failed": False}


def test_deliver_pending_without_smtp_does_nothing(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        mail.send_mail(session, to="ada@example.com", subject="Pending", body="x")
        session.commit()

    assert mail.deliver_pending(sqlite_engine) == 0
    assert outbox(sqlite_engine)[0].sent_at is None
