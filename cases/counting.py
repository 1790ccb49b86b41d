"""Counting big querysets cheaply: the PostgreSQL planner's estimate instead of COUNT(*) when it is large.

An exact COUNT(*) over hundreds of thousands of cases reads every matching row (hundreds of ms at a
million cases, more when the rows are not all-visible); a changelist footer does not need it exact.
Small results are still counted exactly, so a filtered list says exactly how many it found.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet


def planner_estimate(qs: QuerySet) -> int | None:
    """Rows the PostgreSQL planner expects this queryset to return; None on other databases."""
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = qs.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # qs.none(), or a filter that can match nothing
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def estimated_count(qs: QuerySet) -> tuple[int, bool]:
    """(count, estimated): the planner's estimate when it is above MEHR_ESTIMATED_COUNT_ABOVE, else exact."""
    threshold = int(settings.MEHR["ESTIMATED_COUNT_ABOVE"])
    estimate = planner_estimate(qs)
    if estimate is not None and estimate > threshold:
        return estimate, True
    return qs.count(), False
