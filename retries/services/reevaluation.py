"""Retiring a check in a new MEHR version, and re-evaluating the open cases blocked only by it."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.domain import OPEN_STATES, EventKind, Role
from cases.errors import NotPermitted, ValidationFailed
from cases.models import Case, CaseEvent, Check, MehrVersion
from cases.roles import role_of
from cases.services import event_record

from ..models import OPEN_MIGRATION_OUTCOMES, MigrationAttempt
from ..policies import attempts_exhausted, retry_policy_for
from .common import lock_installation
from .scheduling import UNSCHEDULABLE, create_attempt

RETIRING_ROLES = frozenset({Role.DCC_MANAGER, Role.SYSTEM})


def check_retire(*, check: Check, version: MehrVersion, actor: Any, note: str = "") -> dict[str, int]:
    """Retire ``check`` from MEHR ``version``; if that is already in effect, re-evaluate its open cases."""
    if role_of(actor) not in RETIRING_ROLES:
        raise NotPermitted("Only a DCC manager retires checks.")
    if version.effective_from < check.introduced_in.effective_from:
        raise ValidationFailed.field("version", "A check cannot be retired before it was introduced.")
    with transaction.atomic():
        locked = Check.objects.select_for_update().get(pk=check.pk)
        locked.retired_in = version
        locked.save(update_fields=["retired_in"])
    if version.effective_from <= timezone.localdate():
        return cases_reevaluate_retired_check(check=locked, actor=actor, note=note)
    return {"reevaluated": 0, "scheduled": 0, "still_blocked": 0}


def _blocking_others(case: Case, on: date) -> list[Case]:
    """Other open cases of the installation whose checks are in force and block migration."""
    others = (
        Case.objects.filter(installation_id=case.installation_id, state__in=OPEN_STATES, check_type__blocks_migration=True)
        .exclude(pk=case.pk)
        .select_related("check_type", "check_type__retired_in")
    )
    return [c for c in others if not c.check_type.is_retired(on=on)]


def cases_reevaluate_retired_check(*, check: Check, actor: Any = None, note: str = "") -> dict[str, int]:
    """Each open case on a retired check: if nothing else blocks its installation, a migration attempt is
    scheduled (the case is resolved when it migrates); otherwise it says what still blocks it.
    Each case is re-evaluated once per retirement (a REEVALUATION event records it)."""
    if role_of(actor) not in RETIRING_ROLES:
        raise NotPermitted("Only a DCC manager re-evaluates cases.")
    today = timezone.localdate()
    check = Check.objects.select_related("retired_in").get(pk=check.pk)  # the caller's copy may be stale
    if not check.is_retired(on=today):
        raise ValidationFailed.field("check", f"{check.code} is not retired (in effect) yet.")
    version = check.retired_in
    counts = {"reevaluated": 0, "scheduled": 0, "still_blocked": 0}
    already = CaseEvent.objects.filter(
        case=OuterRef("pk"), kind=EventKind.REEVALUATION, data__check=check.code, data__retired_in=version.version
    )
    case_ids = list(
        Case.objects.filter(check_type=check, state__in=OPEN_STATES)
        .exclude(Exists(already))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in case_ids:
        with transaction.atomic():
            case = Case.objects.select_for_update().select_related("installation").get(pk=pk)
            if case.state not in OPEN_STATES:
                continue
            why = f"{check.code} was retired in MEHR {version.version} (effective {version.effective_from:%Y-%m-%d})."
            if note:
                why += f" {note}"
            data: dict[str, Any] = {"check": check.code, "retired_in": version.version}
            blockers = _blocking_others(case, today)
            if blockers:
                body = why + " Still blocked by " + ", ".join(f"{b.check_type.code} ({b.reference})" for b in blockers) + "."
                data["blocked_by"] = [b.reference for b in blockers]
                counts["still_blocked"] += 1
            else:
                body, scheduled = _schedule_for(case, why)
                data["migration_attempt"] = scheduled
                counts["scheduled"] += scheduled is not None
            event_record(case=case, kind=EventKind.REEVALUATION, actor=actor, body=body, data=data)
            counts["reevaluated"] += 1
    return counts


def _schedule_for(case: Case, why: str) -> tuple[str, int | None]:
    installation = lock_installation(case.installation_id)
    if installation.migration_status in UNSCHEDULABLE:
        return why + f" The installation is {installation.get_migration_status_display().lower()}.", None
    existing = MigrationAttempt.objects.filter(installation=installation, outcome__in=OPEN_MIGRATION_OUTCOMES).first()
    if existing is not None:
        existing.cases.add(case)
        return why + f" Nothing else blocks it: it follows migration attempt {existing.number}.", existing.pk
    policy = retry_policy_for(installation)
    if attempts_exhausted(policy, installation.migration_attempt_count):
        return why + " Nothing else blocks it, but no migration attempts are left.", None
    attempt = create_attempt(
        installation=installation,
        policy=policy,
        window_start=timezone.now(),
        reason=f"Re-evaluated after {case.check_type.code} was retired.",
        cases=[case],
    )
    return why + f" Nothing else blocks it: migration attempt {attempt.number} scheduled.", attempt.pk


def retired_checks_reevaluate_due() -> dict[str, int]:
    """Beat (hourly): re-evaluate cases of checks whose retirement has come into effect."""
    totals = {"reevaluated": 0, "scheduled": 0, "still_blocked": 0}
    today = timezone.localdate()
    for check in Check.objects.filter(retired_in__effective_from__lte=today, cases__state__in=OPEN_STATES).distinct():
        for key, value in cases_reevaluate_retired_check(check=check, actor=None).items():
            totals[key] += value
    return totals
