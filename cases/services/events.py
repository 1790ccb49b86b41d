"""Writing the append-only audit trail; every service calls this inside its transaction."""

from __future__ import annotations

from typing import Any

from cases.domain import Visibility
from cases.models import Case, CaseEvent
from cases.roles import organisation_of, role_of
from cases.signals import case_event_recorded


def event_record(
    *,
    case: Case,
    kind: str,
    actor: Any,
    body: str = "",
    from_state: str = "",
    to_state: str = "",
    transition: str = "",
    note_kind: str = "",
    visibility: str = Visibility.SHARED,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    org = organisation_of(actor)
    event = CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor,
        actor_organisation=org,
        actor_role=role_of(actor),
        from_state=from_state,
        to_state=to_state,
        transition=transition,
        note_kind=note_kind,
        visibility=visibility,
        body=body,
        data=data or {},
    )
    case_event_recorded.send(sender=CaseEvent, event=event)
    return event
