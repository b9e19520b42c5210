"""Outgoing mail through an outbox: every message is a row first, then (with SMTP) a delivery.

`send_mail` adds an `OutboxMessage` to the caller's transaction. Without `SMTP_URL` that row is
the whole delivery: the dev outbox page shows it and the console logs one line. With
`SMTP_URL` the message goes out only after the caller commits — a rolled-back sign-up never
mails anybody — and the outcome (`sent_at` or `error`) is written back in a fresh
transaction, so a failed delivery is recorded on the row, never lost. `deliver_pending`
picks up messages a crash left undelivered between the commit and the SMTP call.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, Engine, event
from sqlmodel import Session, col, select

from postforge.models import OutboxMessage, utcnow
from postforge.services.kernel.errors import ValidationFailed
from postforge.settings import get_settings

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 15
MAX_SUBJECT_LENGTH = 255  # the outbox column
MAX_ADDRESS_LENGTH = 320
_PENDING_KEY = "postforge.mail.pending"  # Session.info: ids of messages to deliver after commit
_LISTENING_KEY = "postforge.mail.listening"


@dataclass(frozen=True)
class OutboxItem:
    id: int
    to: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    error: str


def outbox_is_readable() -> bool:
    """Whether the dev outbox page shows mail: only without SMTP, and never in production (it holds
    people's sign-in and reset links)."""
    settings = get_settings()
    return settings.environment != "production" and not settings.smtp_url


def send_mail(session: Session, *, to: str, subject: str, body: str) -> OutboxMessage:
    """Queue a plain-text mail in the caller's transaction; it is delivered after the commit."""
    to, subject = _checked_address(to), _checked_subject(subject)
    if not isinstance(body, str):
        raise ValidationFailed("The message body must be text.", field="body")
    message = OutboxMessage(to_address=to, subject=subject, body_text=body)
    session.add(message)
    session.flush()
    if get_settings().smtp_url:
        _deliver_after_commit(session, message.id)
    else:
        logger.info("mail to %s: %s", to, subject)
    return message


def list_outbox(session: Session, limit: int = 50) -> list[OutboxItem]:
    """The newest messages first (the dev outbox page)."""
    limit = max(1, min(int(limit), 500))
    rows = session.exec(
        select(OutboxMessage)
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .limit(limit)
    ).all()
    return [_item(row) for row in rows]


def deliver_pending(engine: Engine, *, max_age: timedelta = timedelta(hours=1)) -> int:
    """Deliver messages committed but never tried (a crash after commit); returns how many were sent.

    Messages older than `max_age` are left alone: their links (password resets) have expired.
    Failed deliveries are not retried here — their error stays on the row for a person to see.
    """
    smtp_url = get_settings().smtp_url
    if not smtp_url:
        return 0
    with Session(engine) as session:
        ids = session.exec(
            select(OutboxMessage.id).where(
                col(OutboxMessage.sent_at).is_(None),
                OutboxMessage.error == "",
                OutboxMessage.created_at >= utcnow() - max_age,
            )
        ).all()
    return sum(deliver(engine, message_id) for message_id in ids)


def deliver(engine: Engine, message_id: int) -> bool:
    """Send one outbox message over SMTP and record the outcome on its row; True when sent."""
    smtp_url = get_settings().smtp_url
    with Session(engine, expire_on_commit=False) as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.sent_at is not None or not smtp_url:
            return False
        try:
            _smtp_send(smtp_url, _mime(message))
        except (OSError, smtplib.SMTPException) as error:
            message.error = f"{error.__class__.__name__}: {error}"[:2000]
            logger.warning("mail to %s failed: %s", message.to_address, message.error)
        else:
            message.sent_at = utcnow()
            message.error = ""
        session.add(message)
        session.commit()
        return message.sent_at is not None


def _deliver_after_commit(session: Session, message_id: int | None) -> None:
    # Listeners stay on the session for its (short) life; they act only on what is pending.
    if not session.info.get(_LISTENING_KEY):
        event.listen(session, "after_commit", _on_commit)
        event.listen(session, "after_soft_rollback", _on_rollback)
        session.info[_LISTENING_KEY] = True
    session.info.setdefault(_PENDING_KEY, []).append(message_id)


def _on_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, [])
    if not pending:
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    for message_id in pending:
        deliver(engine, message_id)


def _on_rollback(session: Session, previous_transaction) -> None:
    # Only the outermost rollback undoes the rows; a rolled-back savepoint may keep earlier ones.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def _mime(message: OutboxMessage) -> EmailMessage:
    mime = EmailMessage()
    mime["From"] = get_settings().mail_from
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    mime["Message-ID"] = make_msgid(domain="postforge")
    mime.set_content(message.body_text)
    return mime


def _smtp_send(smtp_url: str, mime: EmailMessage) -> None:
    url = urlsplit(smtp_url)
    host = url.hostname or "localhost"
    context = ssl.create_default_context()
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, url.port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        client = smtplib.SMTP(host, url.port or 25, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        client.ehlo()
        if url.scheme == "smtp" and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(mime)


def _checked_address(to: str) -> str:
    to = to.strip() if isinstance(to, str) else ""
    local, at, domain = to.partition("@")
    if not (local and at and domain) or len(to) > MAX_ADDRESS_LENGTH or _has_line_break_or_space(to):
        raise ValidationFailed("Enter a valid email address to send to.", field="to")
    return to


def _checked_subject(subject: str) -> str:
    subject = subject.strip() if isinstance(subject, str) else ""
    if not subject:
        raise ValidationFailed("A mail needs a subject.", field="subject")
    if "\r" in subject or "\n" in subject:
        # A line break in a header would let the text add headers of its own.
        raise ValidationFailed("A mail subject must be one line.", field="subject")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise ValidationFailed(
            f"A mail subject has at most {MAX_SUBJECT_LENGTH} characters.", field="subject"
        )
    return subject


def _has_line_break_or_space(value: str) -> bool:
    return any(ch.isspace() for ch in value)


def _item(row: OutboxMessage) -> OutboxItem:
    return OutboxItem(
        id=row.id or 0,
        to=row.to_address,
        subject=row.subject,
        body=row.body_text,
        created_at=row.created_at,
        sent_at=row.sent_at,
        error=row.error,
    )
