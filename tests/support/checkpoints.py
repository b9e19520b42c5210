"""Stands in for the publishing engine's durable store of a destination's `platform_state`."""

from __future__ import annotations

from typing import Any


class Checkpoints:
    """Pass as `PublishRequest.checkpoint`; `state` is what the next attempt starts from."""

    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    def __call__(self, state: dict[str, Any]) -> None:
        self.saved.append(dict(state))

    @property
    def state(self) -> dict[str, Any]:
        return self.saved[-1] if self.saved else {}
