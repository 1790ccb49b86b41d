"""Errors that services raise; the UI turns them into messages and the API into problem details."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str = "", *, errors: dict[str, list[str]] | None = None) -> None:
        self.errors = errors or {}
        if not message and self.errors:
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items())
        self.message = message or self.__class__.__doc__ or "Service error"
        super().__init__(self.message)


class ValidationFailed(ServiceError):
    """The request is not valid."""

    status = 400
    code = "validation_failed"

    @classmethod
    def field(cls, name: str, message: str) -> ValidationFailed:
        return cls(errors={name: [message]})


class TransitionRefused(ServiceError):
    """The transition cannot be fired now (wrong state, or a condition is not met)."""

    status = 400
    code = "transition_refused"


class NotPermitted(ServiceError):
    """Your role may not do this."""

    status = 403
    code = "not_permitted"


class NotFound(ServiceError):
    """No such object (or not visible to you)."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """The case changed since you read it; reload and try again."""

    status = 409
    code = "conflict"
