"""Loading the MEHR check catalogue (idempotent: a second load changes nothing)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from cases.models import Check, MehrVersion, ProcedureStep

CHECK_FIELDS = (
    "stage",
    "category",
    "title",
    "description",
    "acting_party",
    "retryable",
    "blocks_migration",
    "cohorts",
    "exclusion_category",
    "sla_response_days",
    "sla_resolution_days",
)


def catalogue_load(
    *, versions: Iterable[Mapping[str, Any]], checks: Iterable[Mapping[str, Any]]
) -> dict[str, int]:
    """Create or update MEHR versions, checks and their procedures. Returns counts of what changed."""
    counts = {"versions_created": 0, "checks_created": 0, "checks_updated": 0}
    with transaction.atomic():
        by_version: dict[str, MehrVersion] = {}
        for data in versions:
            version, created = MehrVersion.objects.update_or_create(
                version=data["version"],
                defaults={
                    "published_on": data["published_on"],
                    "effective_from": data["effective_from"],
                    "notes": data.get("notes", ""),
                },
            )
            by_version[version.version] = version
            counts["versions_created"] += created
        for data in checks:
            values = {name: data[name] for name in CHECK_FIELDS if name in data}
            values["exclusion_category"] = values.get("exclusion_category") or None
            values["introduced_in"] = by_version[data["introduced_in"]]
            values["retired_in"] = by_version[data["retired_in"]] if data.get("retired_in") else None
            check = Check.objects.filter(code=data["code"]).first()
            created = check is None
            changed: list[str] = []
            if check is None:
                check = Check.objects.create(code=data["code"], **values)
            else:
                changed = [k for k, v in values.items() if getattr(check, k) != v]
                for k in changed:
                    setattr(check, k, values[k])
                if changed:
                    check.save(update_fields=changed)
            steps = [(i, s["party"], s["kind"], s["text"]) for i, s in enumerate(data["steps"], start=1)]
            existing = list(check.steps.order_by("order").values_list("order", "party", "kind", "text"))
            if existing != steps:
                # Cases keep their own copy of the procedure (the checklist), so replacing is safe.
                check.steps.all().delete()
                ProcedureStep.objects.bulk_create(
                    ProcedureStep(check_type=check, order=o, party=p, kind=k, text=t) for o, p, k, t in steps
                )
            if created:
                counts["checks_created"] += 1
            elif changed or existing != steps:
                counts["checks_updated"] += 1
    return counts
