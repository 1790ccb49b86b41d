"""Dashboard rollups: small, derived tables of open-case and retry-outcome counts, rebuilt by beat.

They exist only so the dashboard does not aggregate a million cases (and two million session
attempts) on every page view. They hold no facts of their own: ``dashboard_rollup_rebuild`` (in
cases/services/dashboard.py) replaces their whole content from the source tables in one
transaction, and the dashboard falls back to live aggregates when they are missing or stale.
"""

from __future__ import annotations

from django.db import models


class DashboardCaseRollup(models.Model):
    """Open cases counted per supplier and every dimension the dashboard charts."""

    supplier = models.ForeignKey("cases.Organisation", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=24)
    stage = models.CharField(max_length=24)
    category = models.CharField(max_length=24)
    owner_party = models.CharField(max_length=8, blank=True, default="")
    cohort = models.CharField(max_length=12)
    installation_type = models.CharField(max_length=8)
    # Index into cases.web.dashboard.AGE_BUCKETS, computed against the build time.
    age_bucket = models.PositiveSmallIntegerField()
    cases = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["supplier"], name="dash_case_rollup_supplier_idx")]

    def __str__(self) -> str:
        return f"{self.supplier_id} {self.state} {self.stage} {self.category}: {self.cases}"


class DashboardCaseTotal(models.Model):
    """DashboardCaseRollup summed per supplier and one dimension at a time (what each chart shows):
    a few hundred rows, so a dashboard view reads almost nothing."""

    supplier = models.ForeignKey("cases.Organisation", on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=24)  # a DashboardCaseRollup column name
    value = models.CharField(max_length=24)  # that column's value (age bucket index as text)
    cases = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["supplier"], name="dash_case_total_supplier_idx")]

    def __str__(self) -> str:
        return f"{self.supplier_id} {self.dimension}={self.value}: {self.cases}"


class DashboardRetryRollup(models.Model):
    """Finished session attempts per supplier, local day and outcome (the retry chart)."""

    supplier = models.ForeignKey("cases.Organisation", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    state = models.CharField(max_length=10)
    attempts = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["supplier", "day"], name="dash_retry_rollup_sup_day_idx")]

    def __str__(self) -> str:
        return f"{self.supplier_id} {self.day} {self.state}: {self.attempts}"


class DashboardSupplierRollup(models.Model):
    """Per-supplier retry figures that are slow to count live for one User at 1M installations:
    migration windows open (scheduled or in progress). One row per supplier that has any."""

    supplier = models.ForeignKey("cases.Organisation", on_delete=models.CASCADE, related_name="+")
    open_windows = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["supplier"], name="dash_supplier_rollup_idx")]

    def __str__(self) -> str:
        return f"{self.supplier_id}: {self.open_windows} open windows"


class DashboardRollupState(models.Model):
    """One row (pk 1): when the rollups were last rebuilt. Absent = never built (use live data)."""

    SINGLETON_PK = 1

    built_at = models.DateTimeField()
    took_ms = models.PositiveIntegerField(default=0)
    case_rows = models.PositiveIntegerField(default=0)
    retry_rows = models.PositiveIntegerField(default=0)
    # First day the retry rollup covers (older days are not kept).
    retry_since = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Dashboard rollups built at {self.built_at:%Y-%m-%d %H:%M:%S}"
