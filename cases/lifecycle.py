"""The case lifecycle as data: each transition's roles (deny by default), fields and help.

The django-fsm-2 decorators on :class:`cases.models.Case` define sources and targets; this module
says who may fire each transition and what it needs, so the admin, UI, API and docs read one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cases.domain import (
    AWAITING_STATES,
    DCC_STAFF_ROLES,
    FINISHED_STATES,
    OPEN_STATES,
    CaseState,
    NoteKind,
    Role,
)

S = CaseState
_DCC = frozenset(DCC_STAFF_ROLES)
_DCC_AND_SYSTEMS = _DCC | {Role.DCC_INTEGRATION}
_ENGINE = frozenset({Role.SYSTEM, Role.DCC_INTEGRATION})
_USER_ACTORS = frozenset({Role.USER_AGENT, Role.USER_INTEGRATION})


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: str
    roles: frozenset[str]
    help: str
    required_fields: tuple[str, ...] = ()
    optional_fields: tuple[str, ...] = ()
    note_required: bool = False
    note_kind: str = NoteKind.INVESTIGATION
    # Roles among `roles` that must record a correction before firing (the User's retry request).
    correction_required_for: frozenset[str] = field(default_factory=frozenset)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required_fields + self.optional_fields


ESCALATABLE_STATES = tuple(s for s in OPEN_STATES if s != S.ESCALATED)
EXCLUDABLE_STATES = tuple(s for s in OPEN_STATES if s not in (S.ESCALATED, S.EXCLUSION_PROPOSED))
WITHDRAWABLE_STATES = OPEN_STATES
RETRY_SOURCES = (S.TRIAGED, *AWAITING_STATES)


def awaiting_sources(target: str) -> tuple[str, ...]:
    """An awaiting state is entered from triage or from another awaiting state (not from itself)."""
    return tuple(s for s in (S.TRIAGED, *AWAITING_STATES) if s != target)

REOPENABLE_STATES = (S.RESOLVED, S.RESOLVED_PARTIAL)
# The retry engine resolves the cases a migration attempt drives when the installation migrates,
# including ones it raised itself and that nobody has triaged yet (resolve is an engine-only
# transition). An exclusion proposal is left for the DCC manager to decide.
ENGINE_RESOLVABLE_STATES = tuple(s for s in OPEN_STATES if s != S.EXCLUSION_PROPOSED)

TRANSITIONS: dict[str, TransitionSpec] = {
    spec.name: spec
    for spec in (
        TransitionSpec(
            "triage",
            "Triage",
            _DCC_AND_SYSTEMS,
            "Take the case on: set which party acts and who owns it.",
            required_fields=("owner_party", "assignee"),
            optional_fields=("priority",),
        ),
        TransitionSpec("await_dcc", "Wait on DCC", _DCC_AND_SYSTEMS, "DCC (MCC) is investigating or correcting."),
        TransitionSpec(
            "await_user", "Wait on User", _DCC_AND_SYSTEMS, "The User must investigate or correct (data, site visit)."
        ),
        TransitionSpec("await_smso", "Wait on SMSO", _DCC_AND_SYSTEMS, "The SMSO must act (WAN, firmware, keys)."),
        TransitionSpec(
            "hand_back_to_dcc",
            "Hand back to DCC",
            _USER_ACTORS,
            "The User has corrected what was asked and hands the case back to DCC.",
            note_required=True,
            note_kind=NoteKind.CORRECTION,
        ),
        TransitionSpec(
            "schedule_retry",
            "Request retry",
            _DCC_AND_SYSTEMS | _USER_ACTORS,
            "Schedule a new migration attempt (the check must be retryable and attempts must be left).",
            correction_required_for=_USER_ACTORS,
            note_kind=NoteKind.CORRECTION,
        ),
        TransitionSpec("start_retry", "Start retry", _ENGINE, "The retry engine started the migration attempt."),
        TransitionSpec("resolve", "Resolve (migrated)", _ENGINE, "The installation migrated."),
        TransitionSpec(
            "resolve_partial",
            "Resolve (partially migrated)",
            _ENGINE,
            "Electricity migrated, gas excluded (e.g. GT01).",
        ),
        TransitionSpec("retry_failed", "Retry failed", _ENGINE, "The migration attempt failed again."),
        TransitionSpec(
            "escalate",
            "Escalate",
            _DCC | {Role.SYSTEM},
            "Escalate to the DCC incident route.",
            required_fields=("incident_reference",),
        ),
        TransitionSpec("de_escalate", "De-escalate", _DCC, "Return the case to the state it was escalated from."),
        TransitionSpec(
            "propose_exclusion",
            "Propose exclusion",
            _DCC_AND_SYSTEMS | {Role.SYSTEM},
            "DCC proposes to stop pursuing migration (TMAD clause 18).",
            required_fields=("excluded_category",),
        ),
        TransitionSpec(
            "exclude",
            "Exclude",
            frozenset({Role.DCC_MANAGER}),
            "Confirm exclusion with a TMAD excluded category.",
            required_fields=("excluded_category",),
        ),
        TransitionSpec(
            "reject_exclusion",
            "Reject exclusion",
            frozenset({Role.DCC_MANAGER}),
            "Keep pursuing migration; the case goes back to triage.",
            note_required=True,
        ),
        TransitionSpec(
            "withdraw",
            "Withdraw",
            _USER_ACTORS,
            "The User withdraws the case (e.g. the meter was replaced).",
            note_required=True,
        ),
        TransitionSpec("close", "Close", _DCC | {Role.SYSTEM}, "Close a finished case."),
        TransitionSpec(
            "reopen",
            "Reopen",
            _DCC | {Role.USER_AGENT},
            "Reopen a resolved case within the quiet period.",
            note_required=True,
        ),
    )
}

ALL_FIELDS = ("owner_party", "assignee", "priority", "incident_reference", "excluded_category")

__all__ = [
    "ENGINE_RESOLVABLE_STATES",
    "ESCALATABLE_STATES",
    "EXCLUDABLE_STATES",
    "FINISHED_STATES",
    "REOPENABLE_STATES",
    "RETRY_SOURCES",
    "TRANSITIONS",
    "WITHDRAWABLE_STATES",
    "TransitionSpec",
    "awaiting_sources",
]
