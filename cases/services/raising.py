"""Raising cases: idempotent by (source, source event id); repeats become occurrences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.domain import DCC_ROLES, OPEN_STATES, EventKind, Role, Stage, Visibility
from cases.errors import NotPermitted, ValidationFailed
from cases.models import Case, CaseOccurrence, Check, ChecklistItem, Installation
from cases.roles import role_of

from .events import event_record

RAISING_ROLES = frozenset(DCC_ROLES | {Role.SYSTEM})
STAGES = frozenset(Stage.values)


@dataclass(frozen=True)
class RaiseResult:
    case: Case
    created: bool  # a new case was opened
    duplicate: bool  # the (source, source_event_id) had been seen before: nothing was written


def case_raise(
    *,
    installation: Installation,
    check: Check,
    source: str,
    source_event_id: str,
    occurred_at: datetime | None = None,
    detail: str = "",
    stage: str | None = None,
    actor: Any = None,
) -> RaiseResult:
    """Record a migration failure. A repeat of an open (installation, check) adds an occurrence."""
    # --- check -----------------------------------------------------------------------------
    if role_of(actor) not in RAISING_ROLES:
        raise NotPermitted("Only DCC and its systems raise cases.")
    occurred_at = occurred_at or timezone.now()
    errors = raise_errors(
        installation=installation, check=check, source=source, source_event_id=source_event_id,
        occurred_at=occurred_at, stage=stage,
    )
    if errors:
        raise ValidationFailed(errors=errors)

    existing = _occurrence(source, source_event_id)
    if existing is not None:
        return RaiseResult(case=existing.case, created=False, duplicate=True)

    # --- do --------------------------------------------------------------------------------
    try:
        with transaction.atomic():
            # Serialise raising per installation so concurrent reports of one failure meet here.
            Installation.objects.select_for_update().only("pk").get(pk=installation.pk)
            existing = _occurrence(source, source_event_id)
            if existing is not None:
                return RaiseResult(case=existing.case, created=False, duplicate=True)
            case = (
                Case.objects.select_for_update()
                .filter(installation=installation, check_type=check, state__in=OPEN_STATES)
                .first()
            )
            created = case is None
            if case is None:
                case = _open_case(installation, check, occurred_at, stage, actor, detail)
            else:
                case.occurrence_count += 1
                case.last_occurred_at = max(case.last_occurred_at, occurred_at)
                case.first_occurred_at = min(case.first_occurred_at, occurred_at)
                case.updated_at = timezone.now()
                case.save(update_fields=["occurrence_count", "last_occurred_at", "first_occurred_at", "updated_at"])
                event_record(
                    case=case,
                    kind=EventKind.OCCURRENCE,
                    actor=actor,
                    body=detail,
                    data={"source": source, "source_event_id": source_event_id, "occurred_at": occurred_at.isoformat()},
                )
            CaseOccurrence.objects.create(
                case=case, source=source, source_event_id=source_event_id, occurred_at=occurred_at, detail=detail
            )
    except IntegrityError:
        # A concurrent duplicate won the race on the unique key: it is the same report.
        existing = _occurrence(source, source_event_id)
        if existing is None:
            raise
        return RaiseResult(case=existing.case, created=False, duplicate=True)

    return RaiseResult(case=case, created=created, duplicate=False)


def raise_errors(
    *,
    installation: Installation,
    check: Check,
    source: str,
    source_event_id: str,
    occurred_at: datetime,
    stage: str | None,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Per-event validation shared by case_raise and case_raise_batch (field name → messages)."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not source or len(source) > 40:
        errors["source"] = ["A source system of at most 40 characters is required."]
    if not source_event_id or len(source_event_id) > 128:
        errors["source_event_id"] = ["A source event id of at most 128 characters is required."]
    if timezone.is_naive(occurred_at):
        errors["occurred_at"] = ["Give a time zone with the occurrence time."]
    elif occurred_at > now + timezone.timedelta(minutes=5):
        errors["occurred_at"] = ["The occurrence time is in the future."]
    if not check.applies_to(installation.cohort):
        errors["check_code"] = [f"Check {check.code} does not apply to cohort {installation.cohort}."]
    elif check.retired_in_id and not errors.get("occurred_at") and check.is_retired(on=occurred_at.date()):
        errors["check_code"] = [f"Check {check.code} was retired in MEHR {check.retired_in.version}."]
    if stage is not None and stage not in STAGES:
        errors["stage"] = [f"Unknown stage {stage!r}."]
    return errors


def _occurrence(source: str, source_event_id: str) -> CaseOccurrence | None:
    return (
        CaseOccurrence.objects.select_related("case")
        .filter(source=source, source_event_id=source_event_id)
        .first()
    )


def _open_case(
    installation: Installation, check: Check, occurred_at: datetime, stage: str | None, actor: Any, detail: str
) -> Case:
    now = timezone.now()
    case = Case.objects.create(
        installation=installation,
        supplier_id=installation.responsible_supplier_id,
        cohort=installation.cohort,
        installation_type=installation.installation_type,
        check_type=check,
        stage=stage or check.stage,
        category=check.category,
        owner_party=check.acting_party,
        first_occurred_at=occurred_at,
        last_occurred_at=occurred_at,
        raised_at=now,
        updated_at=now,
    )
    ChecklistItem.objects.bulk_create(
        ChecklistItem(case=case, order=step.order, party=step.party, kind=step.kind, text=step.text)
        for step in check.steps.all()
    )
    event_record(
        case=case,
        kind=EventKind.RAISED,
        actor=actor,
        to_state=case.state,
        body=detail,
        visibility=Visibility.SHARED,
        data={"check": check.code, "stage": case.stage},
    )
    if check.exclusion_category:
        # e.g. missing master keys: DCC stops pursuing migration straight away (TMAD clause 18).
        from .transitions import case_transition

        case = case_transition(
            case=case,
            transition="propose_exclusion",
            actor=None,
            note=f"{check.code} proposes exclusion on being raised.",
            excluded_category=check.exclusion_category,
        )
    return case
