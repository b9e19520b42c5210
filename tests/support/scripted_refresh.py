"""A test adapter's token refresh, scripted: the engine tests and the metrics tests share it."""

from __future__ import annotations

from postforge.platforms.base import AccountCredentials, TokenSet


class ScriptedRefresh:
    """Mixed into a test `PlatformAdapter`: `refresh` answers `refresh_answer` (new tokens, or an
    exception to raise) and remembers the credentials it was called with; None means the
    platform cannot refresh at all."""

    refresh_answer: TokenSet | Exception | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.refreshed_with: list[AccountCredentials] = []

    def can_refresh(self, account: AccountCredentials) -> bool:
        return self.refresh_answer is not None

    def refresh(self, account: AccountCredentials) -> TokenSet:
        self.refreshed_with.append(account)
        if isinstance(self.refresh_answer, Exception):
            raise self.refresh_answer
        assert self.refresh_answer is not None
        return self.refresh_answer
