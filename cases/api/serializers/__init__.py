"""Serializers of the API, one module per concept. Output serializers are read-optimised:
fields are declared for the OpenAPI schema, and `to_representation` builds plain dicts from rows
fetched with select_related/prefetch (no per-row queries)."""

from datetime import datetime


def isoformat(value: datetime | None) -> str | None:
    """A timestamp as the API writes it (ISO 8601 with offset), or null."""
    return value.isoformat() if value is not None else None
