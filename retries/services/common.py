"""Helpers shared by the retry services: authorisation, case driving, timeline events."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from cases.domain import DCC_STAFF_ROLES, OPEN_STATES, CaseState, EventKind, Role, Visibility
from cases.errors import NotPermitted, ServiceError
from cases.models import Case, Check, Installation
from cases.roles import role_of
from cases.services import case_raise, case_transition, event_record

from ..models import MigrationAttempt

logger = logging.getLogger("retries")

#: CaseOccurrence.source of everything the engine raises.
ENGINE_SOURCE = "mehr-retry-engine"
#: Who may schedule, cancel, pause and resume retries: DCC staff, DCC's systems and the product.
OPERATOR_ROLES = frozenset(DCC_STAFF_ROLES | {Role.DCC_INTEGRATION, Role.SYSTEM})


def authorise_operator(actor: Any, what: str) -> None:
    if role_of(actor) not in OPERATOR_ROLES:
        raise NotPermitted(f"Only DCC may {what}.")


def driven_cases(attempt: MigrationAttempt) -> list[Case]:
    """Open cases this attempt drives: those attached to it and any of the installation's cases
    waiting on a retry. Locked in primary-key order (one lock order everywhere)."""
    ids = set(
        Case.objects.filter(
            Q(migration_attempts=attempt)
            | Q(installation_id=attempt.installation_id, state__in=[CaseState.RETRY_SCHEDULED, CaseState.RETRYING])
        )
        .filter(state__in=OPEN_STATES)
        .values_list("pk", flat=True)
    )
    if not ids:
        return []
    return list(Case.objects.select_for_update().filter(pk__in=ids, state__in=OPEN_STATES).order_by("pk"))


def fire(case: Case, transition: str, note: str = "", **fields: Any) -> Case | None:
    """Fire a system transition; a refusal (the case moved on meanwhile) is logged, not raised."""
    try:
        return case_transition(case=case.pk, transition=transition, actor=None, note=note, **fields)
    except ServiceError as exc:
        logger.info("retry engine: %s on %s refused: %s", transition, case.reference, exc.message)
        return None


def record_on_cases(
    cases: Iterable[Case], *, body: str, data: dict[str, Any], kind: str = EventKind.RETRY, actor: Any = None,
    visibility: str = Visibility.SHARED,
) -> None:
    seen: set[int] = set()
    for case in cases:
        if case.pk in seen:
            continue
        seen.add(case.pk)
        event_record(case=case, kind=kind, actor=actor, body=body, data=data, visibility=visibility)


def raise_failure(
    *, attempt: MigrationAttempt, check_code: str, detail: str, stage: str | None = None
) -> Case | None:
    """Raise (or add an occurrence to) the case for this failure; idempotent per migration attempt."""
    check = Check.objects.filter(code=check_code).first()
    if check is None:
        logger.error("retry engine: check %s is not in the catalogue (run load_catalogue)", check_code)
        return None
    try:
        result = case_raise(
            installation=attempt.installation,
            check=check,
            source=ENGINE_SOURCE,
            source_event_id=f"migration-attempt-{attempt.pk}",
            detail=detail,
            stage=stage,
            actor=None,
        )
    except ServiceError as exc:
        logger.warning("retry engine: could not raise %s for %s: %s", check_code, attempt, exc.message)
        return None
    return result.case


def lock_installation(installation: Installation | int) -> Installation:
    pk = installation if isinstance(installation, int) else installation.pk
    return Installation.objects.select_for_update().get(pk=pk)
