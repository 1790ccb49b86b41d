"""SLA clocks: per case, per party (DCC, User) and per kind (response, resolution), in working days.

A clock runs while the case waits on its party and is paused otherwise. While it runs it carries
its deadline (``due_at``) and warning time (``warn_at``) as columns, so the beat task finds what is
due with an index scan instead of computing anything per case in Python.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from cases.domain import Party


class ClockKind(models.TextChoices):
    RESPONSE = "RESPONSE", "Response"
    RESOLUTION = "RESOLUTION", "Resolution"


class ClockParty(models.TextChoices):
    DCC = Party.DCC, "DCC"
    USER = Party.USER, "User"


class ClockStatus(models.TextChoices):
    RUNNING = "RUNNING", "Running"
    PAUSED = "PAUSED", "Paused"
    MET = "MET", "Met"
    STOPPED = "STOPPED", "Stopped"


class SlaClock(models.Model):
    # Indexed by sla_clock_case_party_kind_unique (case, party, kind); no separate index to maintain.
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="sla_clocks", db_index=False)
    party = models.CharField(max_length=8, choices=ClockParty.choices)
    kind = models.CharField(max_length=12, choices=ClockKind.choices)
    target_days = models.DecimalField(max_digits=6, decimal_places=2, help_text="Target in working days.")
    started_at = models.DateTimeField(help_text="When the clock first started.")
    # Set while the clock runs; working time since then is added to banked_seconds on pause.
    running_since = models.DateTimeField(null=True, blank=True)
    banked_seconds = models.FloatField(default=0.0, help_text="Working seconds elapsed before running_since.")
    due_at = models.DateTimeField(null=True, blank=True, help_text="While running: when the target is breached.")
    warn_at = models.DateTimeField(null=True, blank=True, help_text="While running: when to warn.")
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True, help_text="When the target was breached.")
    escalated_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True, help_text="Response clocks: when the party responded.")
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="Met, or the case finished.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case_id", "party", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["case", "party", "kind"], name="sla_clock_case_party_kind_unique"),
        ]
        indexes = [
            # The beat task's two scans: only running, not yet warned/breached clocks are in them.
            models.Index(fields=["due_at"], condition=Q(breached_at__isnull=True, due_at__isnull=False),
                         name="sla_clock_due_idx"),
            models.Index(fields=["warn_at"], condition=Q(warned_at__isnull=True, warn_at__isnull=False),
                         name="sla_clock_warn_idx"),
            # "SLA breached" queue filter and the report's breach counts.
            models.Index(fields=["case"], condition=Q(breached_at__isnull=False), name="sla_clock_breached_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_party_display()} {self.get_kind_display().lower()} clock of case {self.case_id}"

    @property
    def is_running(self) -> bool:
        return self.running_since is not None

    def get_status_display(self) -> str:
        return ClockStatus(self.status).label

    @property
    def status(self) -> str:
        if self.met_at:
            return ClockStatus.MET
        if self.stopped_at:
            return ClockStatus.STOPPED
        return ClockStatus.RUNNING if self.running_since else ClockStatus.PAUSED


class SlaInterval(models.Model):
    """One running spell of a clock (the gaps between spells are its pauses)."""

    # Indexed by sla_interval_clock_idx (clock, started_at); no separate index to maintain.
    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="intervals", db_index=False)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["clock_id", "started_at"]
        indexes = [models.Index(fields=["clock", "started_at"], name="sla_interval_clock_idx")]

    def __str__(self) -> str:
        return f"{self.clock} {self.started_at:%Y-%m-%d %H:%M} → {self.ended_at or 'now'}"
