"""Streaming CSV export of a (filtered, visibility-scoped) case queryset.

On PostgreSQL the rows come straight from ``COPY (SELECT ...) TO STDOUT`` over the queryset's own
SQL, so nothing is materialised in Python and memory stays flat at any size; elsewhere a
server-side iterator feeds ``csv.writer``. Either way the caller gets an iterator of bytes chunks
for a StreamingHttpResponse.

The COPY runs with a streaming plan (see ``STREAMING_PLAN``): rows leave in id order as they are
joined, instead of hash joins followed by a sort of the whole queue (spilled to disk at 1,000,000
rows), and without JIT compilation. docs/PERFORMANCE.md "Reports and export" has the figures.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from datetime import datetime
from itertools import chain
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connections
from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Length, LPad
from django.utils import timezone

from cases.models import Case, SlaClock

CHUNK_BYTES = 256 * 1024

# Planner settings for the export's COPY, set for that statement only (and reset after it):
# * Hash joins need the whole case set sorted by id afterwards (an external sort of ~180 MB at
#   1,000,000 rows): nothing is sent until it ends (~10 s), and it costs more than probing the
#   installation by primary key row by row while walking cases_case in id order. With hash and merge
#   joins off the plan is an index scan of cases_case joined by nested loops (check, supplier and
#   assignee are memoized), so rows stream from the first millisecond and in the file's order.
#   Filtered exports (a state, a supplier, SLA breached) plan as they would anyway.
# * JIT: a COPY formats rows, it does not aggregate; compiling the expressions cost 2 to 6 s per
#   export at 1,000,000 rows and gained nothing.
STREAMING_PLAN = (("jit", "off"), ("enable_hashjoin", "off"), ("enable_mergejoin", "off"))


class CaseReference(Func):
    """MEHR-000123 from the id, as Case.reference formats it (at least six digits)."""

    output_field = CharField()

    def __init__(self) -> None:
        super().__init__(F("id"))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # Portable form (SQLite fallback).
        pk_text = Cast("id", CharField())
        expression = Concat(Value("MEHR-"), LPad(pk_text, Greatest(Value(6), Length(pk_text)), Value("0")),
                            output_field=CharField())
        return compiler.compile(expression.resolve_expression(compiler.query))

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # One cast and one branch per row instead of two casts, a length, a greatest and two coalesces.
        column, params = compiler.compile(self.source_expressions[0])
        return (f"(CASE WHEN {column} < 1000000 THEN 'MEHR-' || lpad({column}::text, 6, '0') "
                f"ELSE 'MEHR-' || {column}::text END)", [*params, *params, *params])

# (CSV header, queryset expression); the order is the file's column order.
def export_columns(now: datetime) -> list[tuple[str, Any]]:
    return [
        ("reference", CaseReference()),
        ("state", F("state")),
        ("priority", F("priority")),
        ("check_code", F("check_type__code")),
        ("stage", F("stage")),
        ("category", F("category")),
        ("owner_party", F("owner_party")),
        ("supplier", F("supplier__code")),
        ("installation_id", F("installation_id")),
        ("mpan", F("installation__mpan")),
        ("mprn", F("installation__mprn")),
        ("cohort", F("installation__cohort")),
        ("assignee", Coalesce(F("assignee__username"), Value(""), output_field=CharField())),
        ("occurrence_count", F("occurrence_count")),
        ("first_occurred_at", F("first_occurred_at")),
        ("last_occurred_at", F("last_occurred_at")),
        ("raised_at", F("raised_at")),
        ("updated_at", F("updated_at")),
        ("finished_at", F("finished_at")),
        ("incident_reference", F("incident_reference")),
        ("excluded_category", F("excluded_category")),
        ("sla_breached", Exists(
            SlaClock.objects.filter(case=OuterRef("pk")).filter(
                Q(breached_at__isnull=False) | Q(due_at__lte=now, stopped_at__isnull=True)
            ),
            output_field=BooleanField(),
        )),
    ]


def export_header() -> list[str]:
    return [name for name, _ in export_columns(timezone.now())]


def _values_queryset(qs: QuerySet[Case], now: datetime) -> QuerySet:
    columns = export_columns(now)
    annotations = {f"x_{name}": expr for name, expr in columns}
    return qs.order_by().annotate(**annotations).values_list(*annotations).order_by("pk")


def cases_export_csv(qs: QuerySet[Case], *, now: datetime | None = None) -> Iterator[bytes]:
    """Yield the CSV file (header first) in chunks of about CHUNK_BYTES."""
    now = now or timezone.now()
    header = io.StringIO()
    csv.writer(header).writerow(export_header())
    yield header.getvalue().encode()
    values = _values_queryset(qs, now)
    connection = connections[values.db]
    try:
        values.query.sql_with_params()
    except EmptyResultSet:  # e.g. qs.none(): nothing to send but the header
        return
    if connection.vendor == "postgresql":
        yield from _copy_rows(values, connection)
    else:
        yield from _iterate_rows(values)


def cases_export_started(qs: QuerySet[Case], *, now: datetime | None = None) -> Iterator[bytes]:
    """``cases_export_csv`` with the query already started: the header and the first rows (or nothing)
    are read before this returns, so a database error surfaces while the view can still answer with
    an error instead of a 200 stream cut short."""
    chunks = cases_export_csv(qs, now=now)
    head = [next(chunks), next(chunks, b"")]
    return chain(head, chunks)


def _copy_rows(values: QuerySet, connection: Any) -> Iterator[bytes]:
    sql, params = values.query.sql_with_params()
    buffer = bytearray()
    # The session runs in UTC; timestamps come out as "2026-11-28 09:00:00+00".
    with connection.cursor() as cursor:
        # Session settings, not SET LOCAL: that would need a transaction held open across the yields
        # below (a savepoint inside a test's or a request's transaction). They are reset when the COPY
        # ends or the consumer stops; the connection is closed at the end of a request anyway.
        for name, value in STREAMING_PLAN:
            cursor.execute(f"SET {name} = {value}")
        try:
            with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
                for data in copy:
                    buffer += data
                    if len(buffer) >= CHUNK_BYTES:
                        yield bytes(buffer)
                        buffer.clear()
        finally:
            # Best effort: after a failed COPY the transaction may be aborted (and will be rolled back,
            # which undoes the SETs if they were made in it).
            with contextlib.suppress(DatabaseError):
                for name, _ in STREAMING_PLAN:
                    cursor.execute(f"RESET {name}")
    if buffer:
        yield bytes(buffer)


def _iterate_rows(values: QuerySet) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in values.iterator(chunk_size=5000):
        writer.writerow(["t" if v is True else "f" if v is False else "" if v is None else v for v in row])
        if out.tell() >= CHUNK_BYTES:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue().encode()
