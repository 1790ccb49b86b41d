"""Serializers of the API, one module per concept. Output serializers are read-optimised:
fields are declared for the OpenAPI schema, and `to_representation` builds plain dicts from rows
fetched with select_related/prefetch (no per-row queries)."""
