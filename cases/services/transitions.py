"""Firing lifecycle transitions and assigning cases: check first, then do under a row lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cases.domain import (
    DCC_STAFF_ROLES,
    USER_ROLES,
    CaseState,
    EventKind,
    ExcludedCategory,
    MigrationStatus,
    NoteKind,
    Party,
    Priority,
    Role,
    Visibility,
)
from cases.errors import Conflict, NotFound, NotPermitted, TransitionRefused, ValidationFailed
from cases.lifecycle import ALL_FIELDS, TRANSITIONS, TransitionSpec
from cases.models import Case, CaseEvent
from cases.models.cases import CONDITION_MESSAGES
from cases.roles import organisation_of, role_of
from cases.selectors import cases_visible_to
from cases.signals import case_transitioned

from .events import event_record

User = get_user_model()
MAX_NOTE_LENGTH = 20_000


@dataclass(frozen=True)
class TransitionOption:
    spec: TransitionSpec
    enabled: bool
    reasons: tuple[str, ...]


def _fsm_transition(case: Case, name: str):  # type: ignore[no-untyped-def]
    return getattr(type(case), name)._django_fsm.get_transition(case.state)


def _failed_conditions(case: Case, name: str) -> list[str]:
    fsm_transition = _fsm_transition(case, name)
    if fsm_transition is None:
        return [f"Not possible from {CaseState(case.state).label}."]
    return [
        CONDITION_MESSAGES.get(cond.__name__, cond.__name__)
        for cond in fsm_transition.conditions
        if not cond(case)
    ]


def case_transition_options(*, case: Case, user: Any) -> list[TransitionOption]:
    """The transitions this person may fire from the case's state, each enabled or with reasons."""
    role = role_of(user)
    options = []
    for spec in TRANSITIONS.values():
        if role not in spec.roles:
            continue
        if _fsm_transition(case, spec.name) is None:
            continue
        reasons = [r for r in _failed_conditions(case, spec.name) if not _condition_satisfied_by_fields(spec, r)]
        options.append(TransitionOption(spec=spec, enabled=not reasons, reasons=tuple(reasons)))
    return options


def _condition_satisfied_by_fields(spec: TransitionSpec, reason: str) -> bool:
    # Conditions about fields the form will ask for are not reasons to hide the button.
    field_conditions = {
        CONDITION_MESSAGES["owner_and_assignee_set"]: {"owner_party", "assignee"},
        CONDITION_MESSAGES["incident_reference_set"]: {"incident_reference"},
        CONDITION_MESSAGES["excluded_category_set"]: {"excluded_category"},
    }
    return bool(field_conditions.get(reason, set()) & set(spec.fields))


def _resolve_assignee(value: Any, case: Case) -> Any:
    if value is None or value == "":
        return None
    user = value if isinstance(value, User) else None
    if user is None:
        lookup = {"pk": value} if str(value).isdigit() else {"username": value}
        user = User.objects.select_related("membership__organisation").filter(is_active=True, **lookup).first()
    if user is None:
        raise ValidationFailed.field("assignee", "No such active person.")
    role = role_of(user)
    if role in DCC_STAFF_ROLES:
        return user
    if role == Role.USER_AGENT and organisation_of(user) and organisation_of(user).pk == case.supplier_id:
        return user
    raise ValidationFailed.field("assignee", "Assign to DCC staff or a User agent of this case's supplier.")


def _clean_fields(spec: TransitionSpec, case: Case, fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(ALL_FIELDS)
    if unknown:
        raise ValidationFailed(errors={name: ["Unknown field."] for name in sorted(unknown)})
    not_taken = {k for k, v in fields.items() if v not in (None, "")} - set(spec.fields)
    if not_taken:
        raise ValidationFailed(
            errors={name: [f"The {spec.name} transition does not take this field."] for name in sorted(not_taken)}
        )
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in spec.fields:
        value = fields.get(name)
        if value in (None, ""):
            continue
        if name == "owner_party" and value not in Party.values:
            errors[name] = [f"Choose one of {', '.join(Party.values)}."]
        elif name == "priority":
            try:
                value = int(value)
            except (TypeError, ValueError):
                value = None
            if value not in Priority.values:
                errors[name] = ["Priority is 1 (critical) to 4 (low)."]
        elif name == "incident_reference":
            value = str(value).strip()
            if not value or len(value) > 64:
                errors[name] = ["An incident reference of at most 64 characters is required."]
        elif name == "excluded_category" and value not in ExcludedCategory.values:
            errors[name] = [f"Choose one of {', '.join(ExcludedCategory.values)}."]
        elif name == "assignee":
            try:
                value = _resolve_assignee(value, case)
            except ValidationFailed as exc:
                errors.update(exc.errors)
        cleaned[name] = value
    for name in spec.required_fields:
        already = getattr(case, f"{name}_id" if name == "assignee" else name, None)
        if name not in cleaned and not already and name not in errors:
            errors[name] = ["This field is required."]
    if errors:
        raise ValidationFailed(errors=errors)
    return cleaned


def _correction_recorded(case: Case) -> bool:
    """Has the User recorded a correction since the case last changed state?"""
    since = (
        CaseEvent.objects.filter(case=case, kind__in=[EventKind.TRANSITION, EventKind.RAISED])
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    qs = CaseEvent.objects.filter(
        case=case, kind=EventKind.NOTE, note_kind=NoteKind.CORRECTION, actor_role__in=list(USER_ROLES)
    )
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs.exists()


def case_transition(
    *,
    case: Case | int,
    transition: str,
    actor: Any,
    expected_version: int | None = None,
    note: str = "",
    **fields: Any,
) -> Case:
    """Fire a lifecycle transition: authorise, lock, check the version, fire, record — one transaction."""
    # --- check -----------------------------------------------------------------------------
    spec = TRANSITIONS.get(transition)
    if spec is None:
        raise ValidationFailed.field("transition", f"Unknown transition {transition!r}.")
    role = role_of(actor)
    case_pk = case if isinstance(case, int) else case.pk
    if actor is not None and not cases_visible_to(actor).filter(pk=case_pk).exists():
        raise NotFound("No such case.")
    if role not in spec.roles:
        raise NotPermitted(f"Your role may not {spec.label.lower()} a case.")
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ValidationFailed.field("note", f"A note is at most {MAX_NOTE_LENGTH} characters.")
    if spec.note_required and not note:
        raise ValidationFailed.field("note", "Say why: a note is required for this transition.")

    # --- do --------------------------------------------------------------------------------
    with transaction.atomic():
        locked = (
            Case.objects.select_for_update(of=("self",))
            .select_related("check_type", "installation")
            .get(pk=case_pk)
        )
        if expected_version is not None and locked.version != int(expected_version):
            raise Conflict(
                f"{locked.reference} changed since you read it (version {expected_version}, now {locked.version})."
            )
        if _fsm_transition(locked, transition) is None:
            raise TransitionRefused(
                f"{spec.label} is not possible while the case is {CaseState(locked.state).label.lower()}."
            )
        cleaned = _clean_fields(spec, locked, fields)
        for name, value in cleaned.items():
            setattr(locked, name, value)

        if role in spec.correction_required_for:
            if note:
                event_record(
                    case=locked, kind=EventKind.NOTE, actor=actor, body=note, note_kind=NoteKind.CORRECTION
                )
            elif not _correction_recorded(locked):
                raise TransitionRefused("Record the correction you made (a correction note) before asking for a retry.")

        failed = _failed_conditions(locked, transition)
        if failed:
            raise TransitionRefused(" ".join(failed), errors={"conditions": failed})

        from_state = locked.state
        getattr(locked, transition)()
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save()
        event = event_record(
            case=locked,
            kind=EventKind.TRANSITION,
            actor=actor,
            from_state=from_state,
            to_state=locked.state,
            transition=transition,
            body=note if role not in spec.correction_required_for else "",
            note_kind=spec.note_kind if note and role not in spec.correction_required_for else "",
            visibility=Visibility.SHARED,
            data={k: (v.pk if isinstance(v, User) else v) for k, v in cleaned.items()},
        )
        _apply_side_effects(locked, transition)
        case_transitioned.send(
            sender=Case, case=locked, transition=transition, actor=actor, event=event, fields=cleaned
        )
    return locked


def _apply_side_effects(case: Case, transition: str) -> None:
    installation = case.installation
    if transition == "exclude":
        installation.excluded_category = case.excluded_category
        installation.migration_status = MigrationStatus.EXCLUDED
        installation.save(update_fields=["excluded_category", "migration_status", "updated_at"])


def case_assign(*, case: Case | int, assignee: Any, actor: Any, expected_version: int | None = None) -> Case:
    """Assign (or unassign, with None) a case. DCC staff assign anyone eligible; User agents within their own organisation."""
    role = role_of(actor)
    case_pk = case if isinstance(case, int) else case.pk
    if not cases_visible_to(actor).filter(pk=case_pk).exists():
        raise NotFound("No such case.")
    if role not in DCC_STAFF_ROLES | {Role.USER_AGENT, Role.DCC_INTEGRATION}:
        raise NotPermitted("Your role may not assign cases.")
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case_pk)
        if expected_version is not None and locked.version != int(expected_version):
            raise Conflict(f"{locked.reference} changed since you read it.")
        if not locked.is_open:
            raise TransitionRefused("Only open cases are assigned.")
        new = _resolve_assignee(assignee, locked)
        if role == Role.USER_AGENT and new is not None and role_of(new) != Role.USER_AGENT:
            raise NotPermitted("User agents assign cases within their own organisation.")
        previous_id = locked.assignee_id
        if previous_id == (new.pk if new else None):
            return locked
        locked.assignee = new
        locked.version += 1
        locked.updated_at = timezone.now()
        locked.save(update_fields=["assignee", "version", "updated_at"])
        event_record(
            case=locked,
            kind=EventKind.ASSIGNMENT,
            actor=actor,
            body=f"Assigned to {new.get_username()}" if new else "Unassigned",
            data={"from": previous_id, "to": new.pk if new else None},
        )
    return locked

