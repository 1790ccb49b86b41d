"""Dashboard: open cases by state, stage and category, ageing, who is waiting, cohorts, dormant vs
active. Every number is a database aggregate over the person's visible cases (a User sees only
their organisation); Python only folds the handful of grouped rows."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case as SqlCase
from django.db.models import Count, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cases.domain import OPEN_STATES, CaseState, Category, Cohort, InstallationType, Party, Stage
from cases.selectors import cases_visible_to

from .charts import Bar, BarChart, Segment, StackedBar
from .common import Actor, browser_view

# Age of open cases since raised, in calendar days: (upper bound exclusive, label). [design]
AGE_BUCKETS = ((1, "< 1 day"), (3, "1-2 days"), (6, "3-5 days"), (11, "6-10 days"), (21, "11-20 days"), (None, "> 20 days"))
STATE_TONES = {
    CaseState.RAISED: "warn",
    CaseState.ESCALATED: "bad",
    CaseState.EXCLUSION_PROPOSED: "bad",
    CaseState.RETRY_SCHEDULED: "ok",
    CaseState.RETRYING: "ok",
}
PARTY_TONES = {Party.DCC: "dcc", Party.USER: "user", Party.SMSO: "smso", Party.DCO: "muted", "": "muted"}


def _q(**params: Any) -> str:
    return "/?" + urlencode({k: v for k, v in params.items() if v})


def open_case_aggregates(user: Any, now: Any = None) -> dict[str, Counter]:
    """One grouped query over open cases (state, stage, category, owner and age bucket)."""
    now = now or timezone.now()
    whens = [
        When(raised_at__gt=now - timedelta(days=upper), then=Value(i))
        for i, (upper, _) in enumerate(AGE_BUCKETS)
        if upper is not None
    ]
    bucket = SqlCase(*whens, default=Value(len(AGE_BUCKETS) - 1), output_field=IntegerField())
    rows = (
        cases_visible_to(user)
        .filter(state__in=list(OPEN_STATES))
        .annotate(age_bucket=bucket)
        .values("state", "stage", "category", "owner_party", "age_bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    folded: dict[str, Counter] = {k: Counter() for k in ("state", "stage", "category", "owner_party", "age_bucket")}
    for row in rows:
        for key, counter in folded.items():
            counter[row[key]] += row["n"]
    return folded


def installation_aggregates(user: Any) -> dict[str, Counter]:
    rows = (
        cases_visible_to(user)
        .filter(state__in=list(OPEN_STATES))
        .values("installation__cohort", "installation__installation_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    cohort: Counter = Counter()
    kind: Counter = Counter()
    for row in rows:
        cohort[row["installation__cohort"]] += row["n"]
        kind[row["installation__installation_type"]] += row["n"]
    return {"cohort": cohort, "type": kind}


def build_dashboard(user: Any) -> dict[str, Any]:
    agg = open_case_aggregates(user)
    inst = installation_aggregates(user)
    open_total = sum(agg["state"].values())
    by_state = BarChart(
        "Open cases by state",
        [
            Bar(CaseState(s).label, agg["state"].get(s, 0), _q(state=s), STATE_TONES.get(s, ""))
            for s in OPEN_STATES
        ],
    )
    by_stage = BarChart(
        "Open cases by stage",
        [Bar(label, agg["stage"].get(value, 0), _q(stage=value)) for value, label in Stage.choices],
    )
    by_category = BarChart(
        "Open cases by category",
        [Bar(label, agg["category"].get(value, 0), _q(category=value)) for value, label in Category.choices],
    )
    ageing = BarChart(
        "Age of open cases (since raised)",
        [
            Bar(label, agg["age_bucket"].get(i, 0), "", "bad" if i >= 4 else ("warn" if i >= 2 else ""))
            for i, (_, label) in enumerate(AGE_BUCKETS)
        ],
    )
    waiting = StackedBar(
        "Open cases by the party that acts",
        [
            Segment(label, agg["owner_party"].get(value, 0), PARTY_TONES.get(value, "muted"))
            for value, label in Party.choices
        ]
        + ([Segment("Not set", agg["owner_party"].get("", 0), "muted")] if agg["owner_party"].get("") else []),
    )
    waiting_states = BarChart(
        "Waiting on",
        [
            Bar("DCC", agg["state"].get(CaseState.AWAITING_DCC, 0), _q(state=CaseState.AWAITING_DCC), "dcc"),
            Bar("Users", agg["state"].get(CaseState.AWAITING_USER, 0), _q(state=CaseState.AWAITING_USER), "user"),
            Bar("SMSO", agg["state"].get(CaseState.AWAITING_SMSO, 0), _q(state=CaseState.AWAITING_SMSO), "smso"),
        ],
    )
    by_cohort = BarChart(
        "Open cases by cohort",
        [Bar(label, inst["cohort"].get(value, 0), _q(cohort=value)) for value, label in Cohort.choices],
    )
    by_type = BarChart(
        "Open cases: dormant vs active",
        [Bar(label, inst["type"].get(value, 0), _q(type=value)) for value, label in InstallationType.choices],
    )
    headline = {
        "open": open_total,
        "raised": agg["state"].get(CaseState.RAISED, 0),
        "escalated": agg["state"].get(CaseState.ESCALATED, 0),
        "exclusion": agg["state"].get(CaseState.EXCLUSION_PROPOSED, 0),
        "over_10_days": sum(v for k, v in agg["age_bucket"].items() if k >= 4),
    }
    return {
        "headline": headline,
        "by_state": by_state,
        "by_stage": by_stage,
        "by_category": by_category,
        "ageing": ageing,
        "waiting": waiting,
        "waiting_states": waiting_states,
        "by_cohort": by_cohort,
        "by_type": by_type,
    }


@browser_view
def dashboard(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    from .retry_views import dashboard_retry_context

    context = {"actor": actor, **build_dashboard(request.user), **dashboard_retry_context(request.user, actor)}
    return render(request, "cases/dashboard.html", context)
