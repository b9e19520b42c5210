"""Bulk import of posts from a CSV file: check every row first, then import the good ones at once.

The file has a header row and the columns `content`, `local_datetime` and `accounts`
(aliases: `text`/`post`; `datetime`/`date_time`/`scheduled_at`/`when`/`time`; `account`/`handles`).
`local_datetime` is a wall-clock time in the importer's zone ("2026-12-01 09:30"); left empty, the
row becomes a draft. `accounts` lists account handles separated by spaces, commas or semicolons,
each optionally prefixed by its platform (`x:@brand`) when two accounts share a handle.

`check_csv` reads nothing into the database and reports every row; `import_csv` checks again and
creates the posts of the rows the person confirmed — all of them in the caller's transaction, or,
if any confirmed row is no longer valid (say its time has passed meanwhile), none.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from postforge.models import AccountStatus, SocialAccount, utcnow
from postforge.platforms import rules
from postforge.services.content import posts
from postforge.services.kernel import timefmt
from postforge.services.kernel.errors import Conflict, ServiceError, ValidationFailed
from postforge.services.tenancy import workspaces

MAX_BYTES = 1_000_000
MAX_ROWS = 1_000
COLUMNS = {
    "content": ("content", "text", "post", "message"),
    "when": ("local_datetime", "datetime", "date_time", "scheduled_at", "when", "time", "date"),
    "accounts": ("accounts", "account", "handles", "handle", "account_handles"),
}
TEMPLATE = 'content,local_datetime,accounts\n"Hello from PostForge!",2026-12-01 09:30,@demo\n'


@dataclass(frozen=True)
class ImportRow:
    number: int  # the line's row number in the file, header = 1
    content: str
    local_time: str
    handles: str
    ok: bool
    messages: tuple[str, ...] = ()
    scheduled_at: datetime | None = None
    account_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    rows: tuple[ImportRow, ...]
    timezone: str
    valid_rows: tuple[int, ...] = field(default_factory=tuple)

    @property
    def valid_count(self) -> int:
        return len(self.valid_rows)

    @property
    def error_count(self) -> int:
        return len(self.rows) - len(self.valid_rows)


@dataclass(frozen=True)
class ImportResult:
    created: int
    post_ids: tuple[int, ...]


def check_csv(
    session: Session, *, actor_id: int, workspace_id: int, data: bytes, timezone: str
) -> ImportReport:
    """Every row of the file with what is wrong with it; nothing is written."""
    workspaces.authorize(session, user_id=actor_id, workspace_id=workspace_id, action="write_posts")
    timefmt.require_zone(timezone)
    records = _read(data)
    accounts = _workspace_accounts(session, workspace_id)
    now = utcnow()
    rows = tuple(_check_row(number, record, accounts, timezone, now) for number, record in records)
    return ImportReport(rows=rows, timezone=timezone, valid_rows=tuple(r.number for r in rows if r.ok))


def import_csv(
    session: Session,
    *,
    actor_id: int,
    workspace_id: int,
    data: bytes,
    timezone: str,
    confirmed_rows: Sequence[int],
) -> ImportResult:
    """Create the posts of the confirmed rows, all or none (the caller commits once)."""
    report = check_csv(session, actor_id=actor_id, workspace_id=workspace_id, data=data, timezone=timezone)
    wanted = sorted({int(n) for n in confirmed_rows})
    if not wanted:
        raise ValidationFailed("There are no valid rows to import.", field="file")
    by_number = {row.number: row for row in report.rows}
    stale = [n for n in wanted if n not in by_number or not by_number[n].ok]
    if stale:
        raise Conflict(
            f"Row {stale[0]} is no longer valid ({'; '.join(by_number[stale[0]].messages) if stale[0] in by_number else 'missing'}). "
            "Nothing was imported: check the file again."
        )
    accounts = {account.id: account for account in _workspace_accounts(session, workspace_id)}
    created: list[int] = []
    with session.begin_nested():
        for number in wanted:
            row = by_number[number]
            try:
                post = posts.insert_checked_post(
                    session,
                    actor_id=actor_id,
                    workspace_id=workspace_id,
                    content=row.content,
                    scheduled_at=row.scheduled_at,
                    timezone=timezone,
                    accounts=[accounts[i] for i in row.account_ids],
                    meta={"imported": True, "csv_row": number},
                )
            except ServiceError as error:
                raise Conflict(f"Row {number}: {error.message} Nothing was imported.") from None
            created.append(post.id or 0)
    return ImportResult(created=len(created), post_ids=tuple(created))


# --- Reading the file ------------------------------------------------------------------------------


def _read(data: bytes) -> list[tuple[int, dict[str, str]]]:
    if not data:
        raise ValidationFailed("The file is empty.", field="file")
    if len(data) > MAX_BYTES:
        raise ValidationFailed(
            f"The file is {len(data) / 1_000_000:.1f} MB; at most {MAX_BYTES // 1_000_000} MB can be imported at once.",
            field="file",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "The file is not UTF-8 text. Save it as “CSV UTF-8” (or UTF-8 with BOM) and upload it again.",
            field="file",
        ) from None
    if "\x00" in text:
        raise ValidationFailed("That is not a CSV text file.", field="file")
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header is None:
            raise ValidationFailed("The file is empty.", field="file")
        columns = _columns(header)
        records: list[tuple[int, dict[str, str]]] = []
        for number, values in enumerate(reader, start=2):  # as a spreadsheet numbers rows; header = 1
            if not any(value.strip() for value in values):
                continue  # blank lines
            if len(records) >= MAX_ROWS:
                raise ValidationFailed(
                    f"The file has more than {MAX_ROWS:,} rows; split it and import the parts one by one.",
                    field="file",
                )
            record = {
                key: (values[index].strip() if index < len(values) else "") for key, index in columns.items()
            }
            records.append((number, record))
    except csv.Error as error:
        raise ValidationFailed(f"The file is not valid CSV: {error}.", field="file") from None
    if not records:
        raise ValidationFailed("The file has a header but no rows.", field="file")
    return records


def _columns(header: list[str]) -> dict[str, int]:
    names = [name.strip().lower().replace(" ", "_").replace("-", "_") for name in header]
    found: dict[str, int] = {}
    for key, aliases in COLUMNS.items():
        for index, name in enumerate(names):
            if name in aliases:
                found[key] = index
                break
    missing = [COLUMNS[key][0] for key in ("content", "when", "accounts") if key not in found]
    if missing:
        raise ValidationFailed(
            "The first row must name the columns content, local_datetime and accounts "
            f"(missing: {', '.join(missing)}).",
            field="file",
        )
    return found


# --- Checking rows ---------------------------------------------------------------------------------


def _workspace_accounts(session: Session, workspace_id: int) -> list[SocialAccount]:
    return list(session.exec(select(SocialAccount).where(SocialAccount.workspace_id == workspace_id)).all())


def _match_handles(text: str, accounts: list[SocialAccount]) -> tuple[list[SocialAccount], list[str]]:
    chosen: list[SocialAccount] = []
    problems: list[str] = []
    tokens = [token for token in text.replace(";", " ").replace(",", " ").split() if token]
    for token in tokens:
        platform, _, handle = token.rpartition(":") if ":" in token else ("", "", token)
        wanted = handle.lstrip("@").casefold()
        matches = [
            a
            for a in accounts
            if a.handle.lstrip("@").casefold() == wanted
            and (not platform or str(a.platform) == platform.lower())
        ]
        if not matches:
            problems.append(f"Unknown account {token}: connect it first or check the spelling.")
        elif len(matches) > 1:
            options = " or ".join(f"{a.platform}:{a.handle}" for a in matches)
            problems.append(f"{token} is on several platforms: write {options}.")
        elif matches[0] not in chosen:
            chosen.append(matches[0])
    if not tokens:
        problems.append("Name at least one account handle, e.g. @demo.")
    return chosen, problems


def _check_row(
    number: int, record: dict[str, str], accounts: list[SocialAccount], timezone: str, now: datetime
) -> ImportRow:
    content, local_time, handles = record["content"], record["when"], record["accounts"]
    messages: list[str] = []
    if not content:
        messages.append("The content is empty.")
    elif len(content) > posts.MAX_CONTENT_CHARS:
        messages.append(f"The content is longer than {posts.MAX_CONTENT_CHARS:,} characters.")
    chosen, account_problems = _match_handles(handles, accounts)
    messages += account_problems
    scheduled_at = None
    if local_time:
        try:
            scheduled_at = posts.local_to_utc(local_time, timezone)
        except ValidationFailed as error:
            messages.append(error.message)
        else:
            if scheduled_at <= now:
                messages.append(
                    f"{timefmt.format_local(scheduled_at, timezone)} has already passed: choose a time in the future."
                )
    for account in chosen:
        if scheduled_at is not None and account.status != AccountStatus.CONNECTED:
            messages.append(f"{account.handle} needs reconnecting before posts can be scheduled to it.")
        if content and scheduled_at is not None:
            limit = (account.settings or {}).get("max_characters")
            for problem in rules.text_problems(
                account.platform, content, instance_limit=limit if isinstance(limit, int) else None
            ):
                messages.append(f"{account.handle}: {problem}")
    return ImportRow(
        number=number,
        content=content,
        local_time=local_time,
        handles=handles,
        ok=not messages,
        messages=tuple(messages),
        scheduled_at=scheduled_at,
        account_ids=tuple(account.id or 0 for account in chosen),
    )
