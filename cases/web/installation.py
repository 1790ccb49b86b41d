"""Installation detail: devices, migration and session attempts (with a small chart), its cases."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cases.models import Installation
from cases.selectors import cases_visible_to, installations_visible_to

from .common import Actor, browser_view, not_found


def installation_summary(installation: Installation, user: Any) -> dict[str, Any]:
    """What the case page shows about the installation (devices, attempts)."""
    from retries.selectors import migration_attempts_visible_to

    return {
        "obj": installation,
        "devices": list(installation.devices.all()),
        "attempt_limit": _attempt_limit(),
        # The newest few migration attempts, for the case page's summary.
        "recent_attempts": list(
            migration_attempts_visible_to(user).filter(installation=installation).select_related("failure_check").order_by("-number")[:5]
        ),
    }


def _attempt_limit() -> int:
    from django.conf import settings

    return int(settings.MEHR["MIGRATION_ATTEMPTS_BEFORE_EXCLUSION"])


@browser_view
def installation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    installation = (
        installations_visible_to(request.user)
        .select_related("responsible_supplier", "smso")
        .filter(pk=pk)
        .first()
    )
    if installation is None:
        raise not_found()
    cases = list(
        cases_visible_to(request.user)
        .filter(installation=installation)
        .select_related("check_type", "assignee")
        .order_by("-raised_at", "-id")[:200]
    )
    from .retry_views import installation_retry_context

    context = {
        "actor": actor,
        "installation": installation_summary(installation, request.user),
        "cases": cases,
        **installation_retry_context(installation, request.user, actor),
    }
    return render(request, "cases/installation_detail.html", context)
