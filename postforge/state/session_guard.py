"""Every state event re-checks who is asking, before its handler runs.

Reflex keeps each tab's state between events, so anything an earlier event learned about the user
(their id, their workspace, their admin flag) could outlive the session it came from: a password
change, "sign out everywhere", an expiry or a disabled account would leave open tabs reading and
writing. This middleware sits in front of every event of every PostForge state and re-validates the
browser's session token against the database (one indexed lookup); a handler never runs for a
session that is no longer valid, and the tab is sent to the sign-in page. Protection is the default:
only the sign-in pages' states and a few AuthState handlers are public, by explicit declaration, so
a new handler cannot forget the check.

Which events are public is declared in `public`. Background events are checked when they start; a long-running one (the live-status poller, the
checkout watcher) re-checks on each round through `still_signed_in`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reflex as rx
from reflex.middleware import Middleware
from reflex.state import BaseState, StateUpdate
from reflex_base.event import Event

from postforge.state.auth import AuthState, sign_in_redirect
from postforge.state.public import is_public

if TYPE_CHECKING:
    from reflex.app import App


def handler_of(event_name: str) -> tuple[type[BaseState], str] | None:
    """The state class and handler name an event names; None for an unknown state."""
    path, _, name = event_name.rpartition(".")
    if not path:
        return None
    try:
        return rx.State.get_class_substate(path), name
    except ValueError:
        return None


def needs_session(state_class: type[BaseState], name: str) -> bool:
    """Whether an event must come from a valid session: all of PostForge's, unless declared public."""
    if not state_class.__module__.startswith("postforge."):
        return False  # Reflex's own internal events: hydration, on_load dispatch, client storage
    handler = state_class.event_handlers.get(name)
    return not is_public(state_class, handler.fn if handler is not None else None)


def is_background(state_class: type[BaseState], name: str) -> bool:
    handler = state_class.event_handlers.get(name)
    return bool(handler is not None and handler.is_background)


class SessionGuard(Middleware):
    """Refuses every protected event whose browser session is unknown, expired or revoked."""

    async def preprocess(self, app: App | None, state: BaseState, event: Event) -> StateUpdate | None:
        target = handler_of(event.name)
        if target is None:
            return None  # Reflex answers an unknown event itself
        state_class, name = target
        if not needs_session(state_class, name):
            return None
        auth = await state.get_state(AuthState)
        context = await auth.revalidate(remember=not is_background(state_class, name))
        if context is not None:
            return None
        return await _refusal(state, auth)


async def _refusal(state: BaseState, auth: AuthState) -> StateUpdate:
    """The signed-out view of the tab, and the way to the sign-in page (back here afterwards)."""
    root = state._get_root_state()
    delta = await root._get_resolved_delta()
    root._clean()
    return StateUpdate(delta=delta, events=Event.from_event_type(sign_in_redirect(auth.router)))


async def still_signed_in(state: Any) -> bool:
    """For long-running background events: re-check the session inside `async with self`."""
    auth = await state.get_state(AuthState)
    return await auth.revalidate(remember=False) is not None
