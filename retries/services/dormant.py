"""Dormant installations (MEHR.md §6): the supplier's statement that a meter cannot be migrated."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from cases.domain import DCC_STAFF_ROLES, USER_ACTING_ROLES, EventKind, NoteKind
from cases.errors import NotFound, NotPermitted, ValidationFailed
from cases.models import Case, Check, Installation
from cases.roles import role_of
from cases.selectors import installations_visible_to
from cases.services import case_raise, event_record

from .control import installation_retry_cancel

STATEMENT_SOURCE = "supplier-statement"


def installation_declare_unmigratable(*, installation: Installation, actor: Any, note: str) -> Case:
    """The Responsible Supplier states the meter cannot be migrated: PM005 is raised (which proposes
    exclusion at once) and pending retries are cancelled."""
    role = role_of(actor)
    if not installations_visible_to(actor).filter(pk=installation.pk).exists():
        raise NotFound("No such installation.")
    if role not in USER_ACTING_ROLES | DCC_STAFF_ROLES:
        raise NotPermitted("Only the Responsible Supplier (or DCC on its behalf) makes this statement.")
    note = (note or "").strip()
    if not note:
        raise ValidationFailed.field("note", "Say why the meter cannot be migrated.")
    check = Check.objects.filter(code="PM005").first()
    if check is None:
        raise ValidationFailed.field("check", "PM005 is not in the catalogue.")
    with transaction.atomic():
        result = case_raise(
            installation=installation,
            check=check,
            source=STATEMENT_SOURCE,
            source_event_id=f"installation-{installation.pk}",
            detail=note,
            actor=None,  # DCC records the statement; the person who made it is on the note below
        )
        event_record(
            case=result.case, kind=EventKind.NOTE, actor=actor, body=note, note_kind=NoteKind.COMMUNICATION
        )
        installation_retry_cancel(installation=installation, actor=None, reason="Supplier stated the meter cannot be migrated.")
    return Case.objects.get(pk=result.case.pk)
