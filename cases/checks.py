"""System checks for configuration invariants of the cases app."""
from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_mehr_settings(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    errors = []
    mehr = getattr(settings, "MEHR", {})
    if mehr.get("MIGRATION_ATTEMPTS_BEFORE_EXCLUSION", 0) < 1:
        errors.append(Error("MEHR['MIGRATION_ATTEMPTS_BEFORE_EXCLUSION'] must be at least 1.", id="cases.E001"))
    if mehr.get("ATTACHMENT_MAX_BYTES", 0) < 1:
        errors.append(Error("MEHR['ATTACHMENT_MAX_BYTES'] must be positive.", id="cases.E002"))
    return errors
