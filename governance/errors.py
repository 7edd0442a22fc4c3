"""The domain's errors: services raise these; the API turns them into 400/403/404/409 and the
browser views into inline messages."""

from __future__ import annotations


class DomainError(Exception):
    """Base class. `code` is stable and machine-readable; the message is for people."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, code=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class Invalid(DomainError):
    code = "invalid"
    status = 400


class NotAllowed(DomainError):
    code = "not_allowed"
    status = 403


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class RateLimited(DomainError):
    """Too many requests from one account or address: try again after `retry_after` seconds."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))
