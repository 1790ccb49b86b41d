"""Reads that apply visibility. Every interface (UI, API, admin, exports, bulk actions) uses these."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from cases.domain import DCC_ROLES, USER_ROLES, OrganisationKind, Role, Visibility
from cases.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseOccurrence,
    ChecklistItem,
    DailyReport,
    DashboardCaseRollup,
    DashboardCaseTotal,
    DashboardRetryRollup,
    DashboardSupplierRollup,
    Device,
    Installation,
    Membership,
    Organisation,
)
from cases.roles import organisation_of, role_of


def _supplier_filter(user: Any) -> tuple[bool, int | None]:
    """(sees everything, supplier organisation id) for this user; (False, None) sees nothing."""
    role = role_of(user)
    if role in DCC_ROLES or role == Role.SYSTEM:
        return True, None
    if role in USER_ROLES:
        org = organisation_of(user)
        return False, org.pk if org else None
    return False, None


def cases_visible_to(user: Any) -> QuerySet[Case]:
    """DCC roles see every case; User roles see only their own organisation's cases."""
    everything, supplier_id = _supplier_filter(user)
    qs = Case.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(supplier_id=supplier_id)


def dashboard_case_rollup_visible_to(user: Any) -> QuerySet[DashboardCaseRollup]:
    """Rollup rows of the open cases the user may see (a User: only their organisation's rows)."""
    everything, supplier_id = _supplier_filter(user)
    qs = DashboardCaseRollup.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(supplier_id=supplier_id)


def dashboard_case_totals_visible_to(user: Any) -> QuerySet[DashboardCaseTotal]:
    """Per-dimension open-case totals of the cases the user may see (a User: their organisation's)."""
    everything, supplier_id = _supplier_filter(user)
    qs = DashboardCaseTotal.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(supplier_id=supplier_id)


def dashboard_retry_rollup_visible_to(user: Any) -> QuerySet[DashboardRetryRollup]:
    """Retry-outcome rollup rows of the installations the user may see."""
    everything, supplier_id = _supplier_filter(user)
    qs = DashboardRetryRollup.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(supplier_id=supplier_id)


def dashboard_supplier_rollup_visible_to(user: Any) -> QuerySet[DashboardSupplierRollup]:
    everything, supplier_id = _supplier_filter(user)
    qs = DashboardSupplierRollup.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(supplier_id=supplier_id)


def installations_visible_to(user: Any) -> QuerySet[Installation]:
    everything, supplier_id = _supplier_filter(user)
    qs = Installation.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(responsible_supplier_id=supplier_id)


def case_events_visible_to(user: Any) -> QuerySet[CaseEvent]:
    """Events of visible cases; DCC-internal events are never shown to Users."""
    everything, supplier_id = _supplier_filter(user)
    qs = CaseEvent.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(case__supplier_id=supplier_id, visibility=Visibility.SHARED)


def attachments_visible_to(user: Any) -> QuerySet[Attachment]:
    everything, supplier_id = _supplier_filter(user)
    qs = Attachment.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(case__supplier_id=supplier_id, visibility=Visibility.SHARED)


def case_get_visible(*, user: Any, reference: str | int) -> Case:
    """The case with this reference if the user may see it; NotFound otherwise (never 403)."""
    from cases.errors import NotFound

    pk = reference if isinstance(reference, int) else Case.pk_from_reference(reference)
    case = (
        cases_visible_to(user)
        .select_related("installation", "check_type", "supplier", "assignee", "installation__smso")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if case is None:
        raise NotFound(f"No case {reference}.")
    return case


def devices_visible_to(user: Any) -> QuerySet[Device]:
    everything, supplier_id = _supplier_filter(user)
    qs = Device.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(installation__responsible_supplier_id=supplier_id)


def occurrences_visible_to(user: Any) -> QuerySet[CaseOccurrence]:
    everything, supplier_id = _supplier_filter(user)
    qs = CaseOccurrence.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(case__supplier_id=supplier_id)


def checklist_items_visible_to(user: Any) -> QuerySet[ChecklistItem]:
    everything, supplier_id = _supplier_filter(user)
    qs = ChecklistItem.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(case__supplier_id=supplier_id)


def organisations_visible_to(user: Any) -> QuerySet[Organisation]:
    """DCC sees every organisation; a User sees its own and the non-supplier parties (DCC, SMSOs, DCO)."""
    everything, supplier_id = _supplier_filter(user)
    qs = Organisation.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(Q(pk=supplier_id) | ~Q(kind=OrganisationKind.USER))


def memberships_visible_to(user: Any) -> QuerySet[Membership]:
    everything, supplier_id = _supplier_filter(user)
    qs = Membership.objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(organisation_id=supplier_id)


def users_visible_to(user: Any) -> QuerySet:
    """DCC sees every account; a User sees only the accounts of its own organisation."""
    from django.contrib.auth import get_user_model

    everything, supplier_id = _supplier_filter(user)
    qs = get_user_model().objects.all()
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(membership__organisation_id=supplier_id)


def daily_reports_visible_to(user: Any) -> QuerySet[DailyReport]:
    """DCC sees every daily report (each User's and the all-User one); a User only its own
    organisation's (never the all-User report, which sums other Users' figures)."""
    everything, supplier_id = _supplier_filter(user)
    qs = DailyReport.objects.select_related("organisation")
    if everything:
        return qs
    if supplier_id is None:
        return qs.none()
    return qs.filter(organisation_id=supplier_id)
