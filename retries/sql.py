"""Running the retry engine's hot statements as server-side prepared statements.

Django's PostgreSQL backend binds parameters on the client, so PostgreSQL parses and plans every
statement on every execution. The engine's few hot statements (claim, start, record) are large
data-modifying CTEs whose planning cost more than their execution (tens of milliseconds on a busy
server), so they go through psycopg's own cursor with ``prepare=True``: planned once per
connection, then only executed. They still run on Django's connection, inside Django's
transactions, with Django's error wrapping. (Behind PgBouncer in transaction mode, use PgBouncer
>= 1.21 with ``max_prepared_statements``, or set MEHR_RETRY_PREPARED_STATEMENTS=0.)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection


def execute(sql: str, params: dict[str, Any] | list[Any]) -> list[tuple]:
    """Execute one statement and return its rows (empty when it returns none)."""
    if connection.vendor != "postgresql" or not settings.MEHR.get("RETRY_PREPARED_STATEMENTS", True):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        if not getattr(raw, "_mehr_generic_plans", False):
            # Plan once per connection: with the default plan_cache_mode PostgreSQL plans the first
            # five executions of a prepared statement afresh (custom plans), which on a new worker
            # connection is as slow as not preparing. Only these statements are prepared (Django
            # binds on the client), so the setting changes nothing else.
            raw.execute("SET plan_cache_mode = force_generic_plan")
            raw._mehr_generic_plans = True
        with raw.cursor() as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall() if cursor.description else []
