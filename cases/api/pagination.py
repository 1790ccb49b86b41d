"""Keyset ("cursor") pagination: stable pages over changing data, no COUNT(*), a capped page size.

DRF's CursorPagination positions on one field and skips ties with an offset capped at 1,000, which
breaks on low-cardinality orderings (priority) and on bulk-loaded timestamps. Here the position is
always (ordering field, id), so every page is one indexed range query whatever the ties.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


def _bad(param: str, message: str) -> ValidationError:
    return ValidationError({param: [message]})


class KeysetPagination(BasePagination):
    """`?cursor=` from `next`/`previous`; `?page_size=` (capped); `?ordering=` from the view's `ordering_fields`."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"
    default_ordering = "-updated_at"
    ordering_fields: tuple[str, ...] = ()

    # --- request parsing -------------------------------------------------------------------
    def _max_page_size(self) -> int:
        return int(settings.MEHR.get("API_MAX_PAGE_SIZE", 200))

    def get_page_size(self, request: Any) -> int:
        default = int(settings.MEHR.get("API_PAGE_SIZE", 50))
        maximum = self._max_page_size()
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return min(default, maximum)
        try:
            value = int(raw)
        except (TypeError, ValueError, OverflowError):
            value = 0
        if not 1 <= value <= maximum:
            raise _bad(self.page_size_query_param, f"A whole number from 1 to {maximum}.")
        return value

    def _fields(self, view: Any) -> tuple[str, ...]:
        return tuple(getattr(view, "ordering_fields", None) or self.ordering_fields or (self.default_ordering.lstrip("-"),))

    def _default(self, view: Any) -> str:
        return getattr(view, "default_ordering", None) or self.default_ordering

    def get_ordering(self, request: Any, view: Any) -> str:
        raw = request.query_params.get(self.ordering_query_param)
        if raw in (None, ""):
            return self._default(view)
        fields = self._fields(view)
        if raw.lstrip("-") not in fields or raw.count("-") > 1:
            choices = ", ".join(f"{f}, -{f}" for f in fields)
            raise _bad(self.ordering_query_param, f"Order by one of: {choices}.")
        return raw

    def decode_cursor(self, request: Any, ordering: str, model: Any) -> dict[str, Any] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw in (None, ""):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("utf-8"))
            if not isinstance(data, dict) or data.get("o") != ordering:
                raise ValueError("ordering")
            pk = int(data["id"])
            field = model._meta.get_field(ordering.lstrip("-"))
            value = field.to_python(data["v"]) if ordering.lstrip("-") != "id" else pk
            if value is None:
                raise ValueError("value")
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC)  # PostgreSQL takes offsets up to ±15:59 only
            return {"value": value, "id": pk, "reverse": bool(data.get("r"))}
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, DjangoValidationError, OverflowError) as exc:
            # 404, as DRF's own cursor pagination: the page the cursor names does not exist.
            raise NotFound("Invalid cursor: use the next/previous links as given, with the same ordering.") from exc

    @staticmethod
    def encode_cursor(ordering: str, instance: Any, reverse: bool) -> str:
        field = ordering.lstrip("-")
        value = getattr(instance, field)
        payload = {"o": ordering, "v": value.isoformat() if hasattr(value, "isoformat") else value, "id": instance.pk}
        if reverse:
            payload["r"] = 1
        return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")

    # --- the page --------------------------------------------------------------------------
    def paginate_queryset(self, queryset: QuerySet, request: Any, view: Any = None) -> list[Any]:
        self.request = request
        self.page_size = self.get_page_size(request)
        self.ordering = self.get_ordering(request, view)
        cursor = self.decode_cursor(request, self.ordering, queryset.model)
        field = self.ordering.lstrip("-")
        reverse = bool(cursor and cursor["reverse"])
        descending = self.ordering.startswith("-") != reverse
        op = "lt" if descending else "gt"
        order = (f"-{field}", "-id") if descending else (field, "id")
        if field == "id":
            order = order[:1]
        qs = queryset.order_by(*order)
        if cursor is not None:
            value, pk = cursor["value"], cursor["id"]
            if field == "id":
                qs = qs.filter(**{f"id__{op}": pk})
            else:
                # The redundant lte/gte bound lets PostgreSQL use the (…, field) index as a range.
                qs = qs.filter(**{f"{field}__{op}e": value}).filter(
                    Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"id__{op}": pk})
                )
        rows = list(qs[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
        self.has_next = more if not reverse else True
        self.has_previous = (cursor is not None) if not reverse else more
        self.page = rows
        return rows

    def _link(self, instance: Any, reverse: bool) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.encode_cursor(self.ordering, instance, reverse))

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        return self._link(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        return self._link(self.page[0], reverse=True)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    # --- OpenAPI ---------------------------------------------------------------------------
    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        fields = self._fields(view)
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The pagination cursor value (from the `next` or `previous` link).",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Number of results per page.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self._max_page_size()},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": f"Order of the results (default `{self._default(view)}`); ties are broken by id.",
                "schema": {"type": "string", "enum": [p for f in fields for p in (f, f"-{f}")]},
            },
        ]
