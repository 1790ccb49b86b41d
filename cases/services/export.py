"""Streaming CSV export of a (filtered, visibility-scoped) case queryset.

On PostgreSQL the rows come straight from ``COPY (SELECT ...) TO STDOUT`` over the queryset's own
SQL, so nothing is materialised in Python and memory stays flat at any size; elsewhere a
server-side iterator feeds ``csv.writer``. Either way the caller gets an iterator of bytes chunks
for a StreamingHttpResponse.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Length, LPad
from django.utils import timezone

from cases.models import Case, SlaClock

CHUNK_BYTES = 256 * 1024

# (CSV header, queryset expression); the order is the file's column order.
def export_columns(now: datetime) -> list[tuple[str, Any]]:
    pk_text = Cast("id", CharField())
    return [
        ("reference", Concat(Value("MEHR-"), LPad(pk_text, Greatest(Value(6), Length(pk_text)), Value("0")),
                             output_field=CharField())),
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
    if connection.vendor == "postgresql":
        yield from _copy_rows(values, connection)
    else:
        yield from _iterate_rows(values)


def _copy_rows(values: QuerySet, connection: Any) -> Iterator[bytes]:
    sql, params = values.query.sql_with_params()
    buffer = bytearray()
    # The session runs in UTC; timestamps come out as "2026-11-28 09:00:00+00".
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params
    ) as copy:
        for data in copy:
            buffer += data
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
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
