"""Case detail: summary, check, checklist, timeline, notes with attachments, and the person's actions.

Every write calls a service; a stale page (version mismatch) gets a 409 with "this case changed; reload".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cases.domain import (
    DCC_STAFF_ROLES,
    CaseState,
    EventKind,
    ExcludedCategory,
    NoteKind,
    Party,
    Priority,
    Role,
    Visibility,
)
from cases.errors import Conflict, NotFound, NotPermitted, ServiceError
from cases.lifecycle import TRANSITIONS, TransitionSpec
from cases.models import Case
from cases.selectors import attachments_visible_to, case_events_visible_to, case_get_visible
from cases.services import (
    case_add_note,
    case_assign,
    case_tick_checklist,
    case_transition,
    case_transition_options,
)
from cases.services.sla import sla_clocks_for_case

from .common import Actor, assignable_people, browser_view, not_found, person_label
from .installation import installation_summary

FIELD_LABELS = {
    "owner_party": "Owner party",
    "assignee": "Assignee",
    "priority": "Priority",
    "incident_reference": "Incident reference",
    "excluded_category": "Excluded category (TMAD clause 18)",
}


@dataclass
class FieldSpec:
    name: str
    label: str
    required: bool
    choices: list[tuple[str, str]] | None
    value: str
    errors: list[str] = field(default_factory=list)


@dataclass
class ActionForm:
    spec: TransitionSpec
    fields: list[FieldSpec]
    note_label: str
    note_required: bool
    note_value: str = ""
    note_errors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    open: bool = False


def _get_case(request: HttpRequest, reference: str) -> Case:
    try:
        return case_get_visible(user=request.user, reference=reference)
    except NotFound as exc:
        raise not_found(exc) from exc


def _action_forms(case: Case, actor: Actor, people: list[Any]) -> tuple[list[ActionForm], list[Any]]:
    options = case_transition_options(case=case, user=actor.user)
    person_choices = [("", "—")] + [(str(p.pk), person_label(p)) for p in people]
    enabled: list[ActionForm] = []
    disabled = []
    for option in options:
        if not option.enabled:
            disabled.append(option)
            continue
        spec = option.spec
        specs = []
        for name in spec.fields:
            current = getattr(case, f"{name}_id" if name == "assignee" else name, "") or ""
            if name == "assignee" and not current and any(p.pk == actor.user.pk for p in people):
                current = actor.user.pk  # taking a case on usually means taking it yourself
            if name == "excluded_category" and not current and case.check_type.exclusion_category:
                current = case.check_type.exclusion_category
            choices = {
                "owner_party": [("", "—"), *Party.choices],
                "assignee": person_choices,
                "priority": [(str(v), label) for v, label in Priority.choices],
                "excluded_category": [("", "—"), *ExcludedCategory.choices],
            }.get(name)
            specs.append(FieldSpec(name, FIELD_LABELS[name], name in spec.required_fields, choices, str(current)))
        user_retry = spec.name == "schedule_retry" and actor.role in spec.correction_required_for
        note_label = "Correction you made" if user_retry else "Note"
        enabled.append(
            ActionForm(
                spec=spec,
                fields=specs,
                note_label=note_label,
                note_required=spec.note_required,
            )
        )
    return enabled, disabled


class NoteForm(forms.Form):
    kind = forms.ChoiceField(choices=NoteKind.choices, label="Kind", initial=NoteKind.INVESTIGATION)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Note", max_length=20_000)
    visibility = forms.ChoiceField(choices=Visibility.choices, label="Visibility", initial=Visibility.SHARED)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not actor.is_dcc:
            del self.fields["visibility"]


def render_detail(
    request: HttpRequest,
    case: Case,
    *,
    status: int = 200,
    open_action: str | None = None,
    action_errors: dict[str, list[str]] | None = None,
    action_message: str = "",
    posted: dict[str, Any] | None = None,
    note_form: NoteForm | None = None,
    conflict: str = "",
) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    people = list(assignable_people(actor, supplier_id=case.supplier_id)) if actor.may_assign else []
    actions, unavailable = _action_forms(case, actor, people)
    for form in actions:
        if form.spec.name == open_action:
            form.open = True
            errors = action_errors or {}
            field_names = {f.name for f in form.fields} | {"note"}
            if errors and set(errors) <= field_names:
                # The fields carry their own messages; the raw summary would repeat them.
                form.errors = ["Check the fields marked below."]
            else:
                form.errors = [action_message] if action_message else []
            form.note_errors = errors.get("note", [])
            posted = posted or {}
            form.note_value = posted.get("note", "")
            for f in form.fields:
                f.value = posted.get(f.name, f.value)
                f.errors = errors.get(f.name, [])
    events = list(
        case_events_visible_to(request.user)
        .filter(case=case)
        .select_related("actor", "actor_organisation", "attachment")
        .order_by("-created_at", "-id")
    )
    _describe_events(events, people)
    checklist = list(case.checklist.select_related("done_by").order_by("order"))
    for item in checklist:
        item.may_tick = _may_tick(actor, item.party)
    context = {
        "case": case,
        "actor": actor,
        "installation": installation_summary(case.installation, request.user),
        "check": case.check_type,
        "checklist": checklist,
        "events": events,
        "actions": actions,
        "unavailable": unavailable,
        "note_form": note_form or (NoteForm(actor=actor) if actor.may_note else None),
        "people": people,
        "conflict": conflict,
        "open_action": open_action,
        "sla_clocks": sla_clocks_for_case(case),
    }
    return render(request, "cases/case_detail.html", context, status=status)


def _state_label(value: str) -> str:
    try:
        return CaseState(value).label
    except ValueError:
        return value


def _describe_events(events: list[Any], people: list[Any]) -> None:
    """Readable titles and field summaries for the timeline (labels, not internal names)."""
    names = {p.pk: person_label(p) for p in people}
    for event in events:
        event.from_label = _state_label(event.from_state) if event.from_state else ""
        event.to_label = _state_label(event.to_state) if event.to_state else ""
        if event.kind == EventKind.TRANSITION:
            spec = TRANSITIONS.get(event.transition)
            event.title = spec.label if spec else event.transition
        elif event.kind == EventKind.NOTE:
            event.title = f"{event.get_note_kind_display() or 'Note'} note"
        else:
            event.title = event.get_kind_display()
        details = []
        if event.kind == EventKind.TRANSITION:
            for key, value in (event.data or {}).items():
                label = FIELD_LABELS.get(key, key.replace("_", " ").capitalize())
                if key == "assignee":
                    value = names.get(value) or _username(value)
                elif key == "owner_party" and value in Party.values:
                    value = Party(value).label
                elif key == "priority" and value in Priority.values:
                    value = Priority(value).label
                elif key == "excluded_category" and value in ExcludedCategory.values:
                    value = ExcludedCategory(value).label
                details.append((label, value))
        event.details = details


def _username(pk: Any) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=pk).first() if pk else None
    return person_label(user) if user else str(pk)


def _may_tick(actor: Actor, party: str) -> bool:
    # Mirrors case_tick_checklist so we only offer what the service will accept.
    if actor.role == Role.USER_AGENT:
        return party == Party.USER
    if actor.role in DCC_STAFF_ROLES:
        return party != Party.USER
    return False


@browser_view
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    case = _get_case(request, reference)
    if reference != case.reference:
        return redirect("case_detail", reference=case.reference)
    return render_detail(request, case)


def _conflict_response(request: HttpRequest, reference: str, exc: Conflict) -> HttpResponse:
    case = _get_case(request, reference)
    return render_detail(request, case, status=409, conflict=exc.message)


@require_POST
@browser_view
def case_transition_view(request: HttpRequest, reference: str, name: str) -> HttpResponse:
    case = _get_case(request, reference)
    if name not in TRANSITIONS:
        raise not_found()
    spec = TRANSITIONS[name]
    posted = {k: request.POST.get(k, "").strip() for k in (*spec.fields, "note")}
    fields = {k: v for k, v in posted.items() if k != "note" and v}
    try:
        case_transition(
            case=case,
            transition=name,
            actor=request.user,
            expected_version=_version(request),
            note=posted["note"],
            **fields,
        )
    except Conflict as exc:
        return _conflict_response(request, reference, exc)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except ServiceError as exc:
        fresh = _get_case(request, reference)
        return render_detail(
            request, fresh, status=exc.status, open_action=name, action_errors=exc.errors,
            action_message=exc.message, posted=posted,
        )
    messages.success(request, f"{spec.label}: done.")
    return redirect("case_detail", reference=case.reference)


def _version(request: HttpRequest) -> int | None:
    value = request.POST.get("expected_version", "")
    return int(value) if value.isdigit() else None


@require_POST
@browser_view
def case_assign_view(request: HttpRequest, reference: str) -> HttpResponse:
    case = _get_case(request, reference)
    target = request.POST.get("assignee", "")
    try:
        updated = case_assign(
            case=case, assignee=target or None, actor=request.user, expected_version=_version(request)
        )
    except Conflict as exc:
        return _conflict_response(request, reference, exc)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("case_detail", reference=case.reference)
    messages.success(request, f"Assigned to {person_label(updated.assignee)}." if updated.assignee else "Unassigned.")
    return redirect("case_detail", reference=case.reference)


@require_POST
@browser_view
def case_note_view(request: HttpRequest, reference: str) -> HttpResponse:
    case = _get_case(request, reference)
    actor: Actor = request.actor  # type: ignore[attr-defined]
    if not actor.may_note:
        raise PermissionDenied("Your role may not add notes.")
    form = NoteForm(request.POST, actor=actor)
    if form.is_valid():
        try:
            case_add_note(
                case=case,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                body=form.cleaned_data["body"],
                visibility=form.cleaned_data.get("visibility") or Visibility.SHARED,
                attachments=request.FILES.getlist("attachments"),
            )
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from exc
        except ServiceError as exc:
            for name, errs in (exc.errors or {"__all__": [exc.message]}).items():
                for err in errs:
                    form.add_error(name if name in form.fields else None, err)
    if form.errors:
        return render_detail(request, case, status=400, note_form=form)
    messages.success(request, "Note added.")
    return redirect(f"/cases/{case.reference}/#timeline")


@require_POST
@browser_view
def case_tick_view(request: HttpRequest, reference: str, order: int) -> HttpResponse:
    case = _get_case(request, reference)
    done = request.POST.get("done", "1") == "1"
    try:
        case_tick_checklist(case=case, order=order, actor=request.user, done=done)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except NotFound as exc:
        raise not_found(exc) from exc
    messages.success(request, f"Step {order} {'ticked' if done else 'unticked'}.")
    return redirect(f"/cases/{case.reference}/#checklist")


@browser_view
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    attachment = attachments_visible_to(request.user).filter(pk=pk).first()
    if attachment is None:
        raise not_found()
    response = FileResponse(
        attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    return response

