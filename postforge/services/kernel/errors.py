"""Service refusals: exceptions whose message is fit to show the user."""


class ServiceError(Exception):
    """A refusal with a message fit to show the user."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ServiceError):
    code = "invalid"  # bad input; .field names the input


class NotFound(ServiceError):
    code = "not_found"


class PermissionDenied(ServiceError):
    code = "forbidden"  # role or tenancy refusal


class Conflict(ServiceError):
    code = "conflict"  # duplicates, stale edits


class RateLimited(ServiceError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class InsufficientCredits(ServiceError):
    code = "insufficient_credits"

    def __init__(self, message: str, *, balance: int, needed: int):
        super().__init__(message)
        self.balance = balance
        self.needed = needed
