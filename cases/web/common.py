"""Helpers shared by the screens: who is acting, what they may do, and turning service errors into pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import Http404

from cases.domain import DCC_ROLES, DCC_STAFF_ROLES, Role
from cases.errors import NotFound
from cases.roles import organisation_of, role_of

User = get_user_model()

# Roles that may sign in to the browser interface. Integration accounts are for the API only.
BROWSER_ROLES = frozenset({Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.USER_AGENT, Role.USER_VIEWER})
NOTE_ROLES_UI = frozenset({Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.USER_AGENT})
ASSIGN_ROLES_UI = frozenset({Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.USER_AGENT})

CAPABILITIES = {
    Role.DCC_OPERATOR: "triage, assign, route and escalate cases, propose exclusions, run bulk actions",
    Role.DCC_MANAGER: "everything an operator does, plus confirm or reject exclusions",
    Role.USER_AGENT: "work your organisation's cases: tick User steps, record corrections, request retries",
    Role.USER_VIEWER: "read your organisation's cases and dashboard",
}


@dataclass(frozen=True)
class Actor:
    """The signed-in person as the screens need them."""

    user: Any
    role: str
    organisation: Any

    @property
    def is_dcc(self) -> bool:
        return self.role in DCC_ROLES

    @property
    def is_dcc_staff(self) -> bool:
        return self.role in DCC_STAFF_ROLES

    @property
    def may_note(self) -> bool:
        return self.role in NOTE_ROLES_UI

    @property
    def may_assign(self) -> bool:
        return self.role in ASSIGN_ROLES_UI

    @property
    def may_bulk(self) -> bool:
        return self.role in DCC_STAFF_ROLES

    @property
    def capabilities(self) -> str:
        return CAPABILITIES.get(self.role, "")


def actor_of(request: Any) -> Actor:
    return Actor(user=request.user, role=role_of(request.user), organisation=organisation_of(request.user))


def not_found(exc: NotFound | None = None) -> Http404:
    return Http404(exc.message if exc else "Not found")


def assignable_people(actor: Actor, supplier_id: int | None = None) -> QuerySet:
    """People a case may be assigned to, as this person may choose them (the service re-checks)."""
    qs = User.objects.filter(is_active=True).select_related("membership__organisation").order_by(
        "membership__organisation__name", "first_name", "username"
    )
    if actor.is_dcc_staff:
        people = qs.filter(membership__role__in=list(DCC_STAFF_ROLES))
        if supplier_id is not None:
            people = qs.filter(membership__role__in=list(DCC_STAFF_ROLES)) | qs.filter(
                membership__role=Role.USER_AGENT, membership__organisation_id=supplier_id
            )
        return people
    if actor.role == Role.USER_AGENT and actor.organisation is not None:
        return qs.filter(membership__role=Role.USER_AGENT, membership__organisation=actor.organisation)
    return qs.none()


def person_label(user: Any) -> str:
    if user is None:
        return "—"
    return user.get_full_name() or user.get_username()


def browser_view(view):  # type: ignore[no-untyped-def]
    """login_required plus: only roles meant for the browser (integration accounts get 403)."""
    from functools import wraps

    from django.contrib.auth.decorators import login_required
    from django.core.exceptions import PermissionDenied

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):  # type: ignore[no-untyped-def]
        if role_of(request.user) not in BROWSER_ROLES:
            raise PermissionDenied("Your account has no role in the web interface.")
        request.actor = actor_of(request)
        return view(request, *args, **kwargs)

    return wrapped
