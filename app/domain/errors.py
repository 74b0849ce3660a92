"""Errors the domain raises for bad input; views turn them into 4xx answers, the CLI into messages."""
from __future__ import annotations


class ValidationError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    def __init__(self, what: str):
        super().__init__(f"{what} not found")
        self.what = what


class Conflict(RuntimeError):
    """The request is well formed but the object's state does not allow it."""


class Throttled(RuntimeError):
    """Too many attempts in a short time: refused until `retry_after` seconds have passed."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, int(retry_after))


class Forbidden(PermissionError):
    """Who asks may not do this (a role or an API key's scope falls short); `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
