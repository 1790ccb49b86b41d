"""Set-based writes for batch services: one ``INSERT … SELECT FROM unnest(…)`` per table.

Django's ``bulk_create`` builds a model instance per row and renders every value into the SQL on
the client; for a 1,000-event ingestion batch (~10,000 rows over six tables) that Python work was
most of the request. On PostgreSQL these helpers send one typed array per column instead, bound on
the server in binary (``%b``: several times faster to dump than text arrays) through a plain psycopg
cursor rather than Django's client-side binding one, still wrapped by Django so the statements are
logged and counted like any other. Columns not given get
the field's default, evaluated once per call (``timezone.now`` → the same instant for every row;
so give unique columns such as a UUID explicitly).

Elsewhere (SQLite in development and quick tests) they fall back to the ORM with the same effect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.db.models import NOT_PROVIDED


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _cursor() -> Any:
    """A server-side-binding psycopg cursor, wrapped by Django (logging, execute wrappers)."""
    import psycopg

    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def _default(field: models.Field) -> Any:
    if field.default is NOT_PROVIDED:
        return None
    return field.get_default()


def _converter(field: models.Field) -> Any:
    """Per-column value conversion for the arrays (only JSON needs one: str/int choices dump as such)."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    return None


def _column(field: models.Field, values: list[Any]) -> list[Any]:
    convert = _converter(field)
    return values if convert is None else [convert(v) for v in values]


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys from the table's identity sequence (PostgreSQL only), in order."""
    with _cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cur.fetchall()]


def bulk_insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    return_ids: bool = False,
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert ``rows`` (tuples in the order of ``columns``, field attnames) in one statement.

    With ``return_ids`` the new primary keys come back in the order of ``rows`` (reserved from the
    sequence first: one more statement). With ``returning`` (column names) the inserted rows' values
    come back as tuples in no particular order: enough when they carry a key of their own.
    """
    if not rows:
        return []
    meta = model._meta
    given = {meta.get_field(c).attname if c != "pk" else meta.pk.attname for c in columns}
    if not _is_postgres():
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs)
        if returning:
            return [tuple(getattr(o, "pk" if c == "id" else c) for c in returning) for o in objs]
        return [o.pk for o in objs] if return_ids else []

    fields = [meta.pk if c in ("pk", meta.pk.attname) else meta.get_field(c) for c in columns]
    ids: list[int] = []
    if return_ids and meta.pk.attname not in given:
        ids = reserve_ids(model, len(rows))
        fields = [meta.pk, *fields]
        rows = [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
    constant = [
        f for f in meta.concrete_fields if f.attname not in {x.attname for x in fields} and not f.primary_key
    ]
    params: list[Any] = []
    unnest = []
    for position, field in enumerate(fields):
        db_type = "jsonb" if isinstance(field, models.JSONField) else field.db_type(connection)
        # Arrays of jsonb are sent as text and cast per element.
        unnest.append(f"%b::{'text' if db_type == 'jsonb' else db_type}[]")
        params.append(_column(field, [row[position] for row in rows]))
    select = [f"u.c{i}::jsonb" if isinstance(f, models.JSONField) else f"u.c{i}" for i, f in enumerate(fields)]
    for field in constant:
        select.append("%b::text::jsonb" if isinstance(field, models.JSONField) else f"%b::{field.db_type(connection)}")
    constant_params = [_column(f, [_default(f)])[0] for f in constant]
    names = ", ".join(connection.ops.quote_name(f.column) for f in [*fields, *constant])
    alias = ", ".join(f"c{i}" for i in range(len(fields)))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({names}) "
        f"SELECT {', '.join(select)} FROM unnest({', '.join(unnest)}) AS u({alias})"
    )
    if returning:
        sql += " RETURNING " + ", ".join(connection.ops.quote_name(c) for c in returning)
    with _cursor() as cur:
        cur.execute(sql, [*constant_params, *params])
        return [tuple(row) for row in cur.fetchall()] if returning else ids


def bulk_update_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``UPDATE … FROM unnest(…)``: rows are (pk, value for each column) tuples."""
    if not rows:
        return
    meta = model._meta
    if not _is_postgres():
        objs = []
        for row in rows:
            obj = model(pk=row[0])
            for name, value in zip(columns, row[1:], strict=True):
                setattr(obj, meta.get_field(name).attname, value)
            objs.append(obj)
        model.objects.bulk_update(objs, list(columns))
        return
    fields = [meta.get_field(c) for c in columns]
    table = connection.ops.quote_name(meta.db_table)
    pk_col = connection.ops.quote_name(meta.pk.column)
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = u.c{i}" for i, f in enumerate(fields))
    unnest = [f"%b::{meta.pk.db_type(connection)}[]"] + [f"%b::{f.db_type(connection)}[]" for f in fields]
    alias = ", ".join(["pk", *(f"c{i}" for i in range(len(fields)))])
    params = [[row[0] for row in rows]] + [_column(f, [row[i + 1] for row in rows]) for i, f in enumerate(fields)]
    with _cursor() as cur:
        cur.execute(f"UPDATE {table} SET {sets} FROM unnest({', '.join(unnest)}) AS u({alias}) WHERE {table}.{pk_col} = u.pk", params)
