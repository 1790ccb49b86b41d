"""Who is acting: a person's role and organisation, and the system actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cases.domain import DCC_ROLES, USER_ROLES, OrganisationKind, Role

if TYPE_CHECKING:
    from cases.models import Organisation


def role_of(user: Any) -> str:
    """The acting role. ``None`` is the product itself (beat tasks, the retry engine)."""
    if user is None:
        return Role.SYSTEM
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return ""
    membership = _membership(user)
    if membership is not None:
        return membership.role
    # A superuser made with createsuperuser, with no membership, acts as a DCC manager so that
    # support staff can use the admin; every such action is still attributed to them.
    if user.is_superuser:
        return Role.DCC_MANAGER
    return ""


def organisation_of(user: Any) -> Organisation | None:
    if user is None:
        return _dcc_organisation()
    membership = _membership(user)
    if membership is not None:
        return membership.organisation
    if getattr(user, "is_superuser", False):
        return _dcc_organisation()
    return None


def is_dcc(user: Any) -> bool:
    return role_of(user) in DCC_ROLES or role_of(user) == Role.SYSTEM


def is_user_side(user: Any) -> bool:
    return role_of(user) in USER_ROLES


def _membership(user: Any) -> Any:
    # Cached on the user object for the request; select_related("membership__organisation") avoids a query.
    try:
        return user.membership
    except Exception:  # RelatedObjectDoesNotExist
        return None


def _dcc_organisation() -> Organisation | None:
    from cases.models import Organisation

    return Organisation.objects.filter(kind=OrganisationKind.DCC).order_by("pk").first()
