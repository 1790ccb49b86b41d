"""Building blocks shared by every admin of the product (other apps import these too).

* :class:`VisibilityScopedAdminMixin` — the changelist, change view, autocomplete and actions read
  through a visibility selector, so a User-side staff account sees only its organisation's data
  even with admin permissions (hidden objects 404 like everywhere else).
* :class:`ReadOnlyAdminMixin` / :class:`ReadOnlyInlineMixin` — for append-only or service-owned
  data (events, occurrences): viewable, never added, changed or deleted here.
* :func:`report_service_error` — a ServiceError as an admin error message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from cases.domain import DCC_ROLES, DCC_STAFF_ROLES
from cases.errors import Conflict, ServiceError
from cases.roles import role_of


def is_dcc_user(request: HttpRequest) -> bool:
    return role_of(request.user) in DCC_ROLES


def is_dcc_staff(request: HttpRequest) -> bool:
    return role_of(request.user) in DCC_STAFF_ROLES


def report_service_error(model_admin: admin.ModelAdmin, request: HttpRequest, exc: ServiceError, prefix: str = "") -> None:
    message = exc.message
    if isinstance(exc, Conflict):
        message = f"{exc.message} This case changed; reload the page and try again."
    elif exc.errors:
        details = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())
        if details not in message:
            message = f"{message} ({details})"
    model_admin.message_user(request, f"{prefix}{message}", level=messages.ERROR)


class VisibilityScopedAdminMixin:
    """Read every queryset through ``visibility_selector(user)``; subclasses set it."""

    visibility_selector: Callable[[Any], QuerySet] | None = None

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        selector = type(self).visibility_selector
        if selector is None:
            return super().get_queryset(request)  # type: ignore[misc]
        qs = selector(request.user)
        ordering = self.get_ordering(request)  # type: ignore[attr-defined]
        return qs.order_by(*ordering) if ordering else qs


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInlineMixin(ReadOnlyAdminMixin):
    extra = 0
    can_delete = False
    show_change_link = False
