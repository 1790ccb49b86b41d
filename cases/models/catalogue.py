from __future__ import annotations

from datetime import date

from django.db import models

from cases.domain import Category, Cohort, ExcludedCategory, Party, Stage, StepKind


class MehrVersion(models.Model):
    """A published version of the MEHR catalogue, taking effect from a date."""

    version = models.CharField(max_length=16, unique=True)
    published_on = models.DateField()
    effective_from = models.DateField()
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["effective_from", "version"]
        verbose_name = "MEHR version"

    def __str__(self) -> str:
        return f"MEHR {self.version}"


class CheckQuerySet(models.QuerySet["Check"]):
    def in_force(self, *, on: date | None = None, cohort: str | None = None) -> CheckQuerySet:
        """Checks in force on a date (and, optionally, for a cohort)."""
        on = on or date.today()
        qs = self.filter(introduced_in__effective_from__lte=on).exclude(retired_in__effective_from__lte=on)
        if cohort:
            qs = qs.filter(cohorts__contains=cohort) if _json_contains_supported() else qs
        return qs


def _json_contains_supported() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


class Check(models.Model):
    """An error type in the MEHR catalogue, with its procedure."""

    code = models.CharField(max_length=16, unique=True)
    stage = models.CharField(max_length=24, choices=Stage.choices, db_index=True)
    category = models.CharField(max_length=24, choices=Category.choices, db_index=True)
    title = models.CharField(max_length=200)
    description = models.TextField()
    acting_party = models.CharField(max_length=8, choices=Party.choices, help_text="Who usually acts first.")
    retryable = models.BooleanField(default=True, help_text="A migration retry can succeed once this is corrected.")
    blocks_migration = models.BooleanField(default=True)
    cohorts = models.JSONField(default=list, help_text=f"Cohorts it applies to: {', '.join(Cohort.values)}.")
    introduced_in = models.ForeignKey(MehrVersion, on_delete=models.PROTECT, related_name="checks_introduced")
    retired_in = models.ForeignKey(
        MehrVersion, on_delete=models.PROTECT, related_name="checks_retired", null=True, blank=True
    )
    exclusion_category = models.CharField(
        max_length=40,
        choices=ExcludedCategory.choices,
        null=True,
        blank=True,
        help_text="When set, raising this check proposes exclusion straight away (e.g. missing master keys).",
    )
    sla_response_days = models.PositiveSmallIntegerField(default=5)
    sla_resolution_days = models.PositiveSmallIntegerField(default=5)

    objects = CheckQuerySet.as_manager()

    class Meta:
        ordering = ["stage", "code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"

    def applies_to(self, cohort: str) -> bool:
        return not self.cohorts or cohort in self.cohorts

    def is_retired(self, on: date | None = None) -> bool:
        on = on or date.today()
        return self.retired_in_id is not None and self.retired_in.effective_from <= on


class ProcedureStep(models.Model):
    check_type = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="steps", db_column="check_id")
    order = models.PositiveSmallIntegerField()
    party = models.CharField(max_length=8, choices=Party.choices)
    kind = models.CharField(max_length=12, choices=StepKind.choices)
    text = models.TextField()

    class Meta:
        ordering = ["check_type_id", "order"]
        constraints = [models.UniqueConstraint(fields=["check_type", "order"], name="procedure_step_order_unique")]

    def __str__(self) -> str:
        return f"{self.order}. [{self.party}] {self.text[:60]}"
