"""One run of a background event per tab, whatever the client sends.

A background event (a poller, a watcher, a generation stream) is an ordinary event name: a client
can send it directly, and as often as it likes. So a foreground handler *books* a run, and the
background event *claims* that booking first thing: a run nobody booked, or one already claimed,
ends at once. Booking again supersedes the running one, which sees it is no longer current and stops.

A state using this declares `_runs: dict[str, str] = {}` (a backend-only var: never sent to the
browser). Call `claim` and `is_current` inside `async with self`.
"""

import uuid
from typing import Any

_BOOKED = "booked:"


def book(state: Any, name: str) -> None:
    """Allow one run of `name`; any run already going is superseded."""
    state._runs = {**state._runs, name: _BOOKED + uuid.uuid4().hex}


def claim(state: Any, name: str) -> str | None:
    """The id of this run when one was booked and not yet claimed; None means: stop now."""
    booked = state._runs.get(name, "")
    if not booked.startswith(_BOOKED):
        return None
    run_id = booked.removeprefix(_BOOKED)
    state._runs = {**state._runs, name: run_id}
    return run_id


def is_current(state: Any, name: str, run_id: str) -> bool:
    """Whether this run is still the tab's run of `name` (not superseded or cancelled)."""
    return bool(run_id) and state._runs.get(name) == run_id


def cancel(state: Any, name: str) -> None:
    """No run of `name` any more: a running one stops at its next check, a booked one never starts."""
    if state._runs.get(name):
        state._runs = {**state._runs, name: ""}
