"""Dashboard: open cases by state, stage and category, ageing, who is waiting, cohorts, dormant vs
active. Every number is a database aggregate over the person's visible cases (a User sees only
their organisation); Python only folds the grouped rows.

The aggregates come from the rollup table that beat rebuilds (cases.services.dashboard) while it
is fresh — a few thousand rows instead of every open case — and are computed live otherwise (fresh
install, beat down); the page says which, with the rollup's "as of" time."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cases.domain import OPEN_STATES, CaseState, Category, Cohort, InstallationType, Party, Stage
from cases.models import DashboardRollupState
from cases.selectors import cases_visible_to, dashboard_case_totals_visible_to
from cases.services.dashboard import AGE_BUCKETS, age_bucket_expression, dashboard_rollup_fresh

from .charts import Bar, BarChart, Segment, StackedBar
from .common import Actor, browser_view

STATE_TONES = {
    CaseState.RAISED: "warn",
    CaseState.ESCALATED: "bad",
    CaseState.EXCLUSION_PROPOSED: "bad",
    CaseState.RETRY_SCHEDULED: "ok",
    CaseState.RETRYING: "ok",
}
PARTY_TONES = {Party.DCC: "dcc", Party.USER: "user", Party.SMSO: "smso", Party.DCO: "muted", "": "muted"}
# Which folded counter each grouped column feeds (the installation's columns feed `inst`).
CASE_KEYS = ("state", "stage", "category", "owner_party", "age_bucket")
INSTALLATION_KEYS = {"cohort": "cohort", "installation_type": "type"}


def _q(**params: Any) -> str:
    return "/?" + urlencode({k: v for k, v in params.items() if v})


def open_case_aggregates(user: Any, now: datetime | None = None) -> dict[str, Counter]:
    """Live: one grouped query over open cases (state, stage, category, owner and age bucket)."""
    now = now or timezone.now()
    rows = (
        cases_visible_to(user)
        .filter(state__in=list(OPEN_STATES))
        .annotate(age_bucket=age_bucket_expression(now))
        .values(*CASE_KEYS)
        .annotate(n=Count("id"))
        .order_by()
    )
    folded: dict[str, Counter] = {k: Counter() for k in CASE_KEYS}
    for row in rows:
        for key, counter in folded.items():
            counter[row[key]] += row["n"]
    return folded


def installation_aggregates(user: Any) -> dict[str, Counter]:
    """Live: open cases per installation cohort and type (one grouped query with the join)."""
    rows = (
        cases_visible_to(user)
        .filter(state__in=list(OPEN_STATES))
        .values("cohort", "installation_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    cohort: Counter = Counter()
    kind: Counter = Counter()
    for row in rows:
        cohort[row["cohort"]] += row["n"]
        kind[row["installation_type"]] += row["n"]
    return {"cohort": cohort, "type": kind}


def rollup_aggregates(user: Any) -> tuple[dict[str, Counter], dict[str, Counter]]:
    """The same two foldings from the rollup's per-dimension totals, in one statement (one
    consistent snapshot): a few hundred rows (suppliers by dimension values), summed over the
    visible suppliers in SQL, so at most ~50 rows come back whatever the number of cases."""
    agg: dict[str, Counter] = {k: Counter() for k in CASE_KEYS}
    inst: dict[str, Counter] = {k: Counter() for k in INSTALLATION_KEYS.values()}
    target = {**{k: agg[k] for k in CASE_KEYS}, **{column: inst[key] for column, key in INSTALLATION_KEYS.items()}}
    rows = dashboard_case_totals_visible_to(user).values("dimension", "value").annotate(n=Sum("cases")).order_by()
    for row in rows:
        counter = target.get(row["dimension"])
        if counter is not None:
            value = int(row["value"]) if row["dimension"] == "age_bucket" else row["value"]
            counter[value] += row["n"]
    return agg, inst


def build_dashboard(user: Any, now: datetime | None = None) -> dict[str, Any]:
    """Chart data for ``user``: from the beat-built rollup when it is fresh, else live aggregates."""
    now = now or timezone.now()
    rollup: DashboardRollupState | None = dashboard_rollup_fresh(now)
    if rollup is not None:
        agg, inst = rollup_aggregates(user)
    else:
        agg = open_case_aggregates(user, now)
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
        # None: the figures are live (no fresh rollup); else the rollup's build time ("as of").
        "rollup": rollup,
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

    now = timezone.now()
    charts = build_dashboard(request.user, now)
    context = {
        "actor": actor,
        "rollup_interval": settings.MEHR["DASHBOARD_ROLLUP_INTERVAL_SECONDS"],
        **charts,
        **dashboard_retry_context(request.user, actor, now=now, rollup=charts["rollup"]),
    }
    return render(request, "cases/dashboard.html", context)
