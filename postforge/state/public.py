"""Which state events may run without a signed-in session: declared here, nowhere else.

Every event of a PostForge state needs a valid session (see `session_guard`) unless its state class
or the handler itself is marked public with these decorators: sign-in, registration, password reset,
the OIDC landing page, and the AuthState handlers that check sign-in themselves or sign out.
"""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_PUBLIC_STATES: set[type] = set()
_PUBLIC_MARK = "_postforge_public_event"


def public_state(cls: type[T]) -> type[T]:
    """Every event of this state class (not its subclasses) runs without a session."""
    _PUBLIC_STATES.add(cls)
    return cls


def public_event(fn: Callable) -> Callable:
    """This one handler runs without a session. Put it below `@rx.event`."""
    setattr(fn, _PUBLIC_MARK, True)
    return fn


def is_public(state_class: type, handler_fn: Callable | None) -> bool:
    if state_class in _PUBLIC_STATES:
        return True
    return bool(handler_fn is not None and getattr(handler_fn, _PUBLIC_MARK, False))
