"""Filters of a case queue from query parameters, shared by the CSV export (UI and API).

Parameters (all optional, repeatable where it makes sense): state, supplier (code), check (code),
stage, category, priority, owner_party, assignee (username), sla (breached|ok), q (a reference,
an MPAN or an MPRN), raised_from / raised_to (YYYY-MM-DD).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from cases.domain import CaseState, Category, Party, Priority, Stage
from cases.errors import ValidationFailed
from cases.models import Case
from cases.workdays import LONDON

FILTER_PARAMS = ("state", "supplier", "check", "stage", "category", "priority", "owner_party", "assignee", "sla",
                 "q", "raised_from", "raised_to")


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    if hasattr(params, "getlist"):
        raw = params.getlist(name)
    else:
        value = params.get(name)
        raw = value if isinstance(value, list | tuple) else ([value] if value not in (None, "") else [])
    out: list[str] = []
    for item in raw:
        out += [v.strip() for v in str(item).split(",") if v.strip()]
    return out


def _date(value: str, name: str, errors: dict[str, list[str]]) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = ["Use a date as YYYY-MM-DD."]
        return None


def _has_nul(params: Mapping[str, Any]) -> bool:
    if hasattr(params, "lists"):
        return any("\x00" in str(v) for _, values in params.lists() for v in values)
    return any("\x00" in str(v) for v in params.values())


def cases_filter(qs: QuerySet[Case], params: Mapping[str, Any]) -> QuerySet[Case]:
    """Apply queue filters; unknown choice values are a 400 with field messages."""
    errors: dict[str, list[str]] = {}
    # PostgreSQL text cannot hold a NUL character, so a value with one matches nothing stored (and
    # must not reach the database, which would refuse the query).
    matches_nothing = _has_nul(params)
    if matches_nothing:
        params = {k: [str(v).replace("\x00", "") for v in (params.getlist(k) if hasattr(params, "getlist") else
                                                           [params[k]])] for k in params}
    choices = {"state": CaseState.values, "stage": Stage.values, "category": Category.values,
               "owner_party": Party.values, "priority": [str(p) for p in Priority.values]}
    for name, allowed in choices.items():
        values = _values(params, name)
        bad = [v for v in values if v not in allowed]
        if bad:
            errors[name] = [f"Unknown value(s) {', '.join(bad)}; choose from {', '.join(allowed)}."]
        elif values:
            qs = qs.filter(**{f"{name}__in": values})
    if supplier := _values(params, "supplier"):
        qs = qs.filter(supplier__code__in=supplier)
    if check := _values(params, "check"):
        qs = qs.filter(check_type__code__in=check)
    if assignee := _values(params, "assignee"):
        qs = qs.filter(assignee__username__in=assignee)
    if sla := _values(params, "sla"):
        from cases.services.sla import cases_sla_breached

        if sla[0] not in ("breached", "ok"):
            errors["sla"] = ["Use sla=breached or sla=ok."]
        else:
            qs = cases_sla_breached(qs, breached=sla[0] == "breached")
    if q := _first(params, "q").strip():
        pk = Case.pk_from_reference(q) if q.upper().startswith("MEHR-") else None
        if pk is not None and not 0 < pk < 2**62:
            matches_nothing = True  # no such case id (and beyond what a bigint column holds)
        else:
            qs = qs.filter(pk=pk) if pk else qs.filter(Q(installation__mpan=q) | Q(installation__mprn=q))
    for name, op in (("raised_from", "gte"), ("raised_to", "lt")):
        if value := _first(params, name):
            day = _date(value, name, errors)
            if day is None or (op == "lt" and day == date.max):
                continue  # (raised up to the last representable day: no bound)
            bound = datetime.combine(day + timedelta(days=1 if op == "lt" else 0), time.min, LONDON)
            qs = qs.filter(**{f"raised_at__{op}": bound})
    if errors:
        raise ValidationFailed(errors=errors)
    return qs.none() if matches_nothing else qs


def _first(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return "" if value is None else str(value)
