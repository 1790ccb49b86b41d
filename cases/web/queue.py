"""The case queue: filters kept in the URL, search, sorting, pagination, and DCC bulk actions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cases.counting import planner_estimate
from cases.domain import (
    FINISHED_STATES,
    OPEN_STATES,
    CaseState,
    Category,
    Cohort,
    ExcludedCategory,
    InstallationType,
    Party,
    Stage,
)
from cases.errors import ServiceError
from cases.lifecycle import TRANSITIONS
from cases.models import Case, Check
from cases.selectors import cases_visible_to
from cases.services import case_assign, case_transition
from cases.services.sla import cases_sla_breached, with_sla_columns
from cases.validators import normalise_eui64

from .common import Actor, assignable_people, browser_view, person_label

PAGE_SIZE_CHOICES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
# Counting every match costs a full scan at a million cases; we count up to this and say "N+".
COUNT_CAP = 10_000

SORTS = {
    "updated": ("-updated_at", "-id"),
    "oldest": ("updated_at", "id"),
    "raised": ("-raised_at", "-id"),
    "reference": ("id",),
    "reference_desc": ("-id",),
    # P1 first, then oldest case first: matches the (supplier, priority, id) and (priority, id)
    # indexes, and the API's ordering=priority, so it is one index range at a million cases.
    "priority": ("priority", "id"),
    "state": ("state", "-updated_at", "-id"),
}
SORT_LABELS = {
    "updated": "Recently updated",
    "oldest": "Least recently updated",
    "raised": "Recently raised",
    "reference": "Reference ↑",
    "reference_desc": "Reference ↓",
    "priority": "Priority (P1 first, then oldest)",
    "state": "State",
}
STATUS_CHOICES = [("open", "Open"), ("finished", "Finished"), ("closed", "Closed"), ("all", "All")]

_MPAN_RE = re.compile(r"^\d{13}$")
_MPRN_RE = re.compile(r"^\d{6,10}$")
_EUI_RE = re.compile(r"^[0-9A-Fa-f]{2}([-: ]?[0-9A-Fa-f]{2}){7}$")
_REF_RE = re.compile(r"^(MEHR-)?\d{1,12}$", re.IGNORECASE)


def _blank(choices: Any, label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *list(choices)]


class QueueFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=64)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label="Status", initial="open")
    state = forms.ChoiceField(required=False, choices=_blank(CaseState.choices), label="State")
    stage = forms.ChoiceField(required=False, choices=_blank(Stage.choices), label="Stage")
    category = forms.ChoiceField(required=False, choices=_blank(Category.choices), label="Category")
    check = forms.CharField(required=False, label="Check", max_length=16)
    cohort = forms.ChoiceField(required=False, choices=_blank(Cohort.choices), label="Cohort")
    type = forms.ChoiceField(required=False, choices=_blank(InstallationType.choices), label="Installation type")
    owner = forms.ChoiceField(required=False, choices=_blank(Party.choices), label="Owner party")
    assignee = forms.CharField(required=False, label="Assignee", max_length=16)
    sla = forms.ChoiceField(
        required=False, choices=[("", "Any"), ("breached", "Breached"), ("ok", "Not breached")], label="SLA"
    )
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()), label="Sort", initial="updated")
    size = forms.TypedChoiceField(
        required=False, choices=[(n, n) for n in PAGE_SIZE_CHOICES], coerce=int, empty_value=DEFAULT_PAGE_SIZE,
        label="Per page", initial=DEFAULT_PAGE_SIZE,
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        people = [(str(p.pk), person_label(p)) for p in assignable_people(actor)]
        self.fields["assignee"].widget = forms.Select(
            choices=[("", "Anyone"), ("me", "Assigned to me"), ("none", "Unassigned"), *people]
        )
        checks = Check.objects.order_by("code").values_list("code", "title")
        self.fields["check"].widget = forms.Select(choices=[("", "Any"), *((c, f"{c} — {t[:48]}") for c, t in checks)])


@dataclass
class SearchResult:
    queryset: QuerySet[Case]
    note: str = ""


def apply_search(qs: QuerySet[Case], q: str) -> SearchResult:
    """Reference, MPAN (13 digits), MPRN (6-10 digits) or device EUI-64; each is an indexed lookup."""
    q = q.strip()
    if not q:
        return SearchResult(qs)
    if _EUI_RE.match(q):
        try:
            eui = normalise_eui64(q)
        except Exception:
            eui = q.upper()
        return SearchResult(qs.filter(installation__devices__eui64=eui), f"device {eui}")
    conditions = Q()
    matched = []
    if _MPAN_RE.match(q):
        conditions |= Q(installation__mpan=q)
        matched.append("MPAN")
    if _MPRN_RE.match(q):
        conditions |= Q(installation__mprn=q)
        matched.append("MPRN")
    if _REF_RE.match(q):
        pk = Case.pk_from_reference(q)
        if pk is not None:
            conditions |= Q(pk=pk)
            matched.append("reference")
    if not matched:
        return SearchResult(qs.none(), "a reference (MEHR-000123), MPAN, MPRN or device ID")
    return SearchResult(qs.filter(conditions), " or ".join(matched) + f" {q}")


def filtered_cases(actor: Actor, data: dict[str, Any]) -> tuple[QuerySet[Case], str]:
    qs = cases_visible_to(actor.user)
    status = data.get("status") or "open"
    if data.get("state"):
        qs = qs.filter(state=data["state"])
    elif status == "open":
        qs = qs.filter(state__in=list(OPEN_STATES))
    elif status == "finished":
        qs = qs.filter(state__in=list(FINISHED_STATES))
    elif status == "closed":
        qs = qs.filter(state=CaseState.CLOSED)
    if data.get("check"):
        # The check's id, not a join on its code: with a literal id the planner uses the column's
        # statistics (one small query; the catalogue has dozens of checks).
        qs = qs.filter(check_type_id__in=list(Check.objects.filter(code=data["check"]).values_list("pk", flat=True)))
    for field, lookup in (
        ("stage", "stage"),
        ("category", "category"),
        ("cohort", "cohort"),
        ("type", "installation_type"),
        ("owner", "owner_party"),
    ):
        if data.get(field):
            qs = qs.filter(**{lookup: data[field]})
    assignee = data.get("assignee") or ""
    if assignee == "me":
        qs = qs.filter(assignee=actor.user)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee.isdigit():
        qs = qs.filter(assignee_id=int(assignee))
    if data.get("sla"):
        qs = cases_sla_breached(qs, breached=data["sla"] == "breached")
    found = apply_search(qs, data.get("q") or "")
    return found.queryset, found.note


def capped_count(qs: QuerySet[Case]) -> tuple[int, bool]:
    """(count, capped): counts at most COUNT_CAP + 1 rows so a huge match stays cheap.

    When the planner already expects more than COUNT_CAP matches (PostgreSQL), nothing is counted:
    finding even 10,000 rows of a combination of filters can mean reading far more of a million.
    The page links stay right either way: "next" shows while pages are full.
    """
    estimate = planner_estimate(qs)
    if estimate is not None and estimate > COUNT_CAP:
        return COUNT_CAP, True
    n = qs.order_by().values("pk")[: COUNT_CAP + 1].count()
    return min(n, COUNT_CAP), n > COUNT_CAP


def _query_string(params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return urlencode(merged)


@browser_view
def queue(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    form = QueueFilterForm(request.GET or None, actor=actor)
    # Invalid values are reported and ignored one by one; the valid filters still apply.
    if form.is_bound:
        form.is_valid()
    data = form.cleaned_data if form.is_bound else {}
    qs, search_note = filtered_cases(actor, data)
    sort = data.get("sort") or "updated"
    size = data.get("size") or DEFAULT_PAGE_SIZE
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    total, capped = capped_count(qs)
    last_page = max(1, -(-total // size))
    if not capped:
        page = min(page, last_page)
    offset = (page - 1) * size
    # The page's ids first (an index range), then the rows with their SLA columns for those ids only:
    # annotated on the whole match, PostgreSQL hashes the SLA subquery over every clock (a scan of
    # the clock table per page view, ~200 ms at a million cases) because it costs it before the LIMIT.
    ids = list(qs.order_by(*SORTS[sort]).values_list("pk", flat=True)[offset : offset + size])
    by_id = {
        case.pk: case
        for case in with_sla_columns(
            Case.objects.filter(pk__in=ids).select_related("installation", "check_type", "assignee", "supplier")
        )
    }
    rows = [by_id[pk] for pk in ids if pk in by_id]
    params = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "form": form,
        "cases": rows,
        "total": total,
        "capped": capped,
        "page": page,
        "last_page": last_page,
        "has_next": len(rows) == size and (capped or page < last_page),
        "has_prev": page > 1,
        "first_row": offset + 1 if rows else 0,
        "last_row": offset + len(rows),
        "next_qs": _query_string(params, page=page + 1),
        "prev_qs": _query_string(params, page=page - 1),
        "current_qs": _query_string(params, page=page if page > 1 else None),
        "sort": sort,
        "sort_links": {key: _query_string(params, sort=key) for key in SORTS},
        "search_note": search_note,
        "filters_active": any(v for k, v in params.items() if k not in ("sort", "size")),
        "bulk": BulkForm(actor=actor) if actor.may_bulk else None,
    }
    return render(request, "cases/queue.html", context)


# --- bulk actions (DCC staff) -----------------------------------------------------------------
BULK_TRANSITIONS = ("triage", "await_dcc", "await_user", "await_smso", "escalate", "propose_exclusion", "close")
MAX_BULK = 200


class BulkForm(forms.Form):
    action = forms.ChoiceField(label="Action")
    assignee = forms.ChoiceField(label="Assignee", required=False)
    owner_party = forms.ChoiceField(label="Owner party", required=False, choices=_blank(Party.choices, "—"))
    incident_reference = forms.CharField(label="Incident reference", required=False, max_length=64)
    excluded_category = forms.ChoiceField(
        label="Excluded category", required=False, choices=_blank(ExcludedCategory.choices, "—")
    )
    note = forms.CharField(label="Note", required=False, max_length=2000, widget=forms.TextInput)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "bulk_%s")
        super().__init__(*args, **kwargs)
        actions = [("assign", "Assign to…")] + [
            (f"transition:{name}", TRANSITIONS[name].label)
            for name in BULK_TRANSITIONS
            if actor.role in TRANSITIONS[name].roles
        ]
        self.fields["action"].choices = actions
        self.fields["assignee"].choices = [("", "—"), ("none", "Nobody (unassign)")] + [
            (str(p.pk), person_label(p)) for p in assignable_people(actor)
        ]


@dataclass
class BulkOutcome:
    reference: str
    ok: bool
    message: str


def run_bulk(actor: Actor, case_ids: list[int], data: dict[str, Any]) -> list[BulkOutcome]:
    """Run one action per case through the same services; each case succeeds or fails on its own."""
    outcomes: list[BulkOutcome] = []
    visible = dict(cases_visible_to(actor.user).filter(pk__in=case_ids).values_list("pk", "version"))
    action = data["action"]
    for pk in case_ids:
        reference = f"MEHR-{pk:06d}"
        if pk not in visible:
            outcomes.append(BulkOutcome(reference, False, "No such case."))
            continue
        try:
            if action == "assign":
                target = data.get("assignee") or ""
                if not target:
                    raise ServiceError(errors={"assignee": ["Choose who to assign to."]})
                case = case_assign(
                    case=pk, assignee=None if target == "none" else target, actor=actor.user,
                    expected_version=visible[pk],
                )
                outcomes.append(BulkOutcome(reference, True, f"assigned to {person_label(case.assignee)}"))
            else:
                name = action.split(":", 1)[1]
                spec = TRANSITIONS[name]
                fields = {f: data.get(f) for f in spec.fields if data.get(f)}
                if "assignee" in fields and fields["assignee"] == "none":
                    fields.pop("assignee")
                case = case_transition(
                    case=pk, transition=name, actor=actor.user, expected_version=visible[pk],
                    note=data.get("note") or "", **fields,
                )
                outcomes.append(BulkOutcome(reference, True, f"now {case.get_state_display().lower()}"))
        except ServiceError as exc:
            outcomes.append(BulkOutcome(reference, False, exc.message))
    return outcomes


@require_POST
@browser_view
def bulk(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    if not actor.may_bulk:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Bulk actions are for DCC staff.")
    back = request.POST.get("back") or ""
    back_url = "/?" + back if back else "/"
    form = BulkForm(request.POST, actor=actor)
    ids = [int(x) for x in request.POST.getlist("cases") if x.isdigit()][:MAX_BULK]
    if not form.is_valid() or not ids:
        from django.contrib import messages

        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()) if form.errors else ""
        messages.error(request, problems or "Select at least one case for the bulk action.")
        return redirect(back_url)
    outcomes = run_bulk(actor, ids, form.cleaned_data)
    action_label = dict(form.fields["action"].choices)[form.cleaned_data["action"]]
    return render(
        request,
        "cases/bulk_result.html",
        {
            "outcomes": outcomes,
            "succeeded": [o for o in outcomes if o.ok],
            "failed": [o for o in outcomes if not o.ok],
            "action_label": action_label.rstrip("…"),
            "back_url": back_url,
        },
    )
