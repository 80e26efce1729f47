"""Domain errors. Services raise these; the web layer turns them into answers in one place
(`service.web.middleware.errors`)."""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class RateLimited(DomainError):
    status = 429


class Invalid(DomainError):
    """Input that cannot be used; `fields` maps a field name to a plain explanation."""

    status = 422

    def __init__(self, message: str = "", fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = fields or {}
