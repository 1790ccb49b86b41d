"""Template context for every page: who is signed in, for which organisation, and the navigation."""

from __future__ import annotations

from typing import Any

from cases.roles import organisation_of, role_of

from .common import BROWSER_ROLES, CAPABILITIES


def navigation(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = role_of(user)
    if role not in BROWSER_ROLES:
        return {}
    from cases.domain import Role

    organisation = organisation_of(user)
    path = request.path
    nav = [
        {"label": "Queue", "url": "/", "current": path == "/" or path.startswith("/cases/")},
        {"label": "My cases", "url": "/?assignee=me", "current": False} if role != Role.USER_VIEWER else None,
        {"label": "Dashboard", "url": "/dashboard/", "current": path.startswith("/dashboard/")},
        {"label": "Reports", "url": "/reports/daily/", "current": path.startswith("/reports/")},
        {"label": "Import", "url": "/imports/exception-events/", "current": path.startswith("/imports/")}
        if role in (Role.DCC_OPERATOR, Role.DCC_MANAGER) else None,
        {"label": "Notifications", "url": "/settings/notifications/", "current": path.startswith("/settings/")}
        if not role.startswith("DCC") else None,
    ]
    return {
        "nav": [n for n in nav if n],
        "nav_role": Role(role).label,
        "nav_role_code": role,
        "nav_org": organisation.name if organisation else "",
        "nav_capabilities": CAPABILITIES.get(role, ""),
        "nav_is_dcc": role.startswith("DCC"),
    }
