"""The retry engine's state: policies, migration attempts, session attempts, pauses.

Time lives in the database: a session attempt is a row with a due time; beat claims due rows
(see retries.services.claiming). Nothing waits in a broker countdown.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cases.domain import Cohort, InstallationType, Stage


def _default_attempts_before_exclusion() -> int:
    # The public default (5) lives in settings so that it stays one configurable number.
    return int(settings.MEHR["MIGRATION_ATTEMPTS_BEFORE_EXCLUSION"])


class RetryPolicy(models.Model):
    """The numbers of MEHR.md §5, per MEHR version, cohort and installation type.

    Selection (retries.policies.retry_policy_for): active, auto-selectable policies whose MEHR
    version is in force, matching cohort (blank = any) and installation type (blank = any); the
    most specific wins (version, then cohort, then type). Dormant installations have their own
    default policy.
    """

    name = models.CharField(max_length=80, unique=True)
    mehr_version = models.ForeignKey(
        "cases.MehrVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retry_policies",
        help_text="In force from this MEHR version's effective date; blank = every version.",
    )
    cohort = models.CharField(max_length=12, choices=Cohort.choices, blank=True, default="", help_text="Blank = any cohort.")
    installation_type = models.CharField(
        max_length=8, choices=InstallationType.choices, blank=True, default="", help_text="Blank = any type."
    )
    is_active = models.BooleanField(default=True)
    auto_select = models.BooleanField(
        default=True,
        help_text="Chosen automatically for matching installations. Off for policies used only on request "
        "(e.g. the simulation policy).",
    )
    revision = models.PositiveIntegerField(default=1, editable=False, help_text="Bumped on every edit; stamped on attempts.")

    # --- MEHR.md §5 -------------------------------------------------------------------------
    wake_sms_per_attempt = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(20)])
    session_timeout_seconds = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(1)], help_text="Per-attempt session connect timeout (5 minutes)."
    )
    session_attempts_per_window = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    attempt_interval_seconds = models.PositiveIntegerField(
        default=900, validators=[MinValueValidator(0)], help_text="Interval between session attempts (15 minutes)."
    )
    backoff_enabled = models.BooleanField(default=False, help_text="Multiply the interval after each failed attempt.")
    backoff_multiplier = models.FloatField(default=2.0, validators=[MinValueValidator(1.0), MaxValueValidator(10.0)])
    jitter_enabled = models.BooleanField(
        default=False, help_text="Full jitter: wait a uniformly random time between 0 and the (capped) interval."
    )
    max_interval_seconds = models.PositiveIntegerField(default=3600, help_text="Cap on the interval with backoff.")
    window_opens_at = models.TimeField(default=time(0, 0), help_text="Local (London) time a rescheduled window opens.")
    window_length_minutes = models.PositiveIntegerField(
        default=24 * 60, validators=[MinValueValidator(1)], help_text="The migration window (a day)."
    )
    reschedule_delay_working_days = models.PositiveSmallIntegerField(
        default=1, help_text="A failed window is rescheduled this many working days later (next working day)."
    )
    migration_attempts_before_exclusion = models.PositiveSmallIntegerField(
        default=_default_attempts_before_exclusion,
        validators=[MinValueValidator(1)],
        help_text="Failed migration attempts after which exclusion is proposed (public: 5).",
    )
    sms_budget_per_installation = models.PositiveIntegerField(
        default=30, help_text="Wake SMS an installation may use in total (2 x 3 x 5 by default)."
    )
    # --- dormant installations (MEHR.md §6) -----------------------------------------------------
    firmware_upgrade_first = models.BooleanField(
        default=False, help_text="Two-step schedule: a firmware upgrade attempt before the migration attempt."
    )
    migration_after_firmware_working_days = models.PositiveSmallIntegerField(
        default=1, help_text="Working days between a successful firmware upgrade and the migration window."
    )

    notes = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "retry policies"

    def __str__(self) -> str:
        return f"{self.name} (rev {self.revision})"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.pk is not None:
            self.revision = (type(self).objects.filter(pk=self.pk).values_list("revision", flat=True).first() or 0) + 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        limit = int(settings.MEHR["RETRY_MAX_SESSION_TIMEOUT_SECONDS"])
        if self.session_timeout_seconds and self.session_timeout_seconds > limit:
            errors["session_timeout_seconds"] = (
                f"At most {limit} s (MEHR['RETRY_MAX_SESSION_TIMEOUT_SECONDS']; the broker visibility timeout "
                "must stay longer than any running session)."
            )
        if (
            self.backoff_enabled
            and self.max_interval_seconds is not None
            and self.attempt_interval_seconds is not None
            and self.max_interval_seconds < self.attempt_interval_seconds
        ):
            errors["max_interval_seconds"] = "The cap must not be below the base interval."
        if errors:
            raise ValidationError(errors)


class AttemptKind(models.TextChoices):
    MIGRATION = "MIGRATION", "Migration"
    FIRMWARE_UPGRADE = "FIRMWARE_UPGRADE", "Firmware upgrade (dormant pre-migration)"


class MigrationOutcome(models.TextChoices):
    SCHEDULED = "SCHEDULED", "Scheduled"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    PARTIAL = "PARTIAL", "Succeeded partially (electricity only)"
    FAILED = "FAILED", "Failed"
    CANCELLED = "CANCELLED", "Cancelled"


OPEN_MIGRATION_OUTCOMES = (MigrationOutcome.SCHEDULED, MigrationOutcome.IN_PROGRESS)


class MigrationAttempt(models.Model):
    """One migration window for one installation (or, for dormant meters, a firmware upgrade window)."""

    installation = models.ForeignKey("cases.Installation", on_delete=models.PROTECT, related_name="migration_attempts")
    kind = models.CharField(max_length=16, choices=AttemptKind.choices, default=AttemptKind.MIGRATION)
    number = models.PositiveIntegerField(help_text="1, 2, 3 … per installation (all kinds).")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    stage_reached = models.CharField(max_length=24, choices=Stage.choices, blank=True, default="")
    outcome = models.CharField(max_length=12, choices=MigrationOutcome.choices, default=MigrationOutcome.SCHEDULED)
    failure_check = models.ForeignKey(
        "cases.Check", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    policy = models.ForeignKey(RetryPolicy, on_delete=models.PROTECT, related_name="migration_attempts")
    policy_revision = models.PositiveIntegerField()
    cases = models.ManyToManyField(
        "cases.Case", blank=True, related_name="migration_attempts", help_text="Cases this attempt drives."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True, default="")
    sms_sent = models.PositiveIntegerField(default=0)
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["installation_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["installation", "number"], name="migration_attempt_number_unique"),
            # At most one open window per installation: scheduling twice is refused by the database.
            models.UniqueConstraint(
                fields=["installation"],
                condition=Q(outcome__in=["SCHEDULED", "IN_PROGRESS"]),
                name="migration_attempt_one_open",
            ),
        ]
        indexes = [
            models.Index(fields=["outcome", "window_start"], name="migration_attempt_outcome_idx"),
            models.Index(fields=["-created_at"], name="migration_attempt_created_idx"),
            # The daily allocation counts the windows opening on a day (scheduling.with_allocation).
            models.Index(fields=["window_start"], name="migration_attempt_window_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} attempt {self.number} for installation {self.installation_id}"

    @property
    def is_open(self) -> bool:
        return self.outcome in OPEN_MIGRATION_OUTCOMES


class SessionState(models.TextChoices):
    SCHEDULED = "SCHEDULED", "Scheduled"
    CLAIMED = "CLAIMED", "Claimed"
    RUNNING = "RUNNING", "Running"
    CONNECTED = "CONNECTED", "Connected"
    FAILED = "FAILED", "Failed"
    TIMED_OUT = "TIMED_OUT", "Timed out"
    CANCELLED = "CANCELLED", "Cancelled"


FINAL_SESSION_STATES = (SessionState.CONNECTED, SessionState.FAILED, SessionState.TIMED_OUT, SessionState.CANCELLED)
LEASED_SESSION_STATES = (SessionState.CLAIMED, SessionState.RUNNING)


class SessionAttempt(models.Model):
    """One attempt by the S1SP to wake the CH and establish a session, due at a time."""

    migration_attempt = models.ForeignKey(MigrationAttempt, on_delete=models.CASCADE, related_name="session_attempts")
    # Denormalised from the migration attempt so that claims, pauses and visibility filter one table.
    installation = models.ForeignKey("cases.Installation", on_delete=models.PROTECT, related_name="session_attempts")
    cohort = models.CharField(max_length=12, choices=Cohort.choices)
    number = models.PositiveSmallIntegerField(help_text="1, 2, 3 … within the migration window.")
    due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=SessionState.choices, default=SessionState.SCHEDULED)
    claim_token = models.UUIDField(null=True, blank=True, help_text="Set by the claim; the task must present it.")
    claims = models.PositiveSmallIntegerField(default=0, help_text="How many times beat claimed it.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField()
    result_code = models.CharField(max_length=40, blank=True, default="")
    result_detail = models.TextField(blank=True, default="")
    sms_sent = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")
    policy = models.ForeignKey(RetryPolicy, on_delete=models.PROTECT, related_name="+")
    policy_revision = models.PositiveIntegerField()

    class Meta:
        ordering = ["migration_attempt_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["migration_attempt", "number"], name="session_attempt_number_unique"),
        ]
        indexes = [
            # "What is due now": only SCHEDULED rows are in the index, so it stays small however many
            # finished attempts the table holds.
            models.Index(fields=["due_at"], name="session_due_idx", condition=Q(state="SCHEDULED")),
            # The reaper's "leases that expired".
            models.Index(
                fields=["lease_expires_at"], name="session_lease_idx", condition=Q(state__in=["CLAIMED", "RUNNING"])
            ),
            models.Index(fields=["installation", "state"], name="session_installation_idx"),
        ]

    def __str__(self) -> str:
        return f"Session attempt {self.number} of {self.migration_attempt}"

    @property
    def idempotency_key(self) -> str:
        """Sent to the S1SP: one key per session attempt, whatever happens to the task."""
        return f"mehr-session-{self.pk}"

    @property
    def start_lag_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.started_at - self.due_at).total_seconds()


class PauseScope(models.TextChoices):
    INSTALLATION = "INSTALLATION", "One installation"
    COHORT = "COHORT", "A cohort"
    GLOBAL = "GLOBAL", "Everything (kill switch)"


class RetryPause(models.Model):
    """While a pause is active, due session attempts in its scope stay scheduled and are not claimed."""

    scope = models.CharField(max_length=12, choices=PauseScope.choices)
    installation = models.ForeignKey(
        "cases.Installation", on_delete=models.CASCADE, null=True, blank=True, related_name="retry_pauses"
    )
    cohort = models.CharField(max_length=12, choices=Cohort.choices, blank=True, default="")
    reason = models.CharField(max_length=500)
    is_active = models.BooleanField(default=True)
    paused_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    paused_at = models.DateTimeField(default=timezone.now)
    resumed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    resumed_at = models.DateTimeField(null=True, blank=True)
    resume_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-paused_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="INSTALLATION", installation__isnull=False, cohort="")
                    | Q(scope="COHORT", installation__isnull=True) & ~Q(cohort="")
                    | Q(scope="GLOBAL", installation__isnull=True, cohort="")
                ),
                name="retry_pause_scope_fields",
            ),
            models.UniqueConstraint(
                fields=["scope", "installation", "cohort"],
                condition=Q(is_active=True),
                name="retry_pause_one_active",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        target = {
            PauseScope.INSTALLATION: f"installation {self.installation_id}",
            PauseScope.COHORT: f"cohort {self.cohort}",
            PauseScope.GLOBAL: "everything",
        }[PauseScope(self.scope)]
        return f"Pause of {target} ({'active' if self.is_active else 'lifted'})"


class SimulatorBehaviour(models.Model):
    """How the S1SP simulator answers for an installation or a device model (development, demos, tests)."""

    class Mode(models.TextChoices):
        CONNECT = "CONNECT", "Always connects"
        FAIL_THEN_CONNECT = "FAIL_THEN_CONNECT", "Fails N times, then connects"
        NEVER_ANSWER = "NEVER_ANSWER", "Never answers (the timeout fires)"
        REFUSE = "REFUSE", "Refuses with a code"
        RANDOM = "RANDOM", "Connects with a seeded probability"

    installation = models.OneToOneField(
        "cases.Installation", on_delete=models.CASCADE, null=True, blank=True, related_name="simulator_behaviour"
    )
    device_model = models.CharField(max_length=80, blank=True, default="", help_text="Matches any device of this model.")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.CONNECT)
    fail_times = models.PositiveIntegerField(default=0, help_text="For FAIL_THEN_CONNECT: calls that fail first.")
    failure_mode = models.CharField(
        max_length=20,
        choices=[(Mode.NEVER_ANSWER, "Never answers"), (Mode.REFUSE, "Refuses")],
        default=Mode.NEVER_ANSWER,
        help_text="How the failing calls of FAIL_THEN_CONNECT / RANDOM fail.",
    )
    refuse_code = models.CharField(max_length=40, blank=True, default="CH_UNREACHABLE")
    connect_probability = models.FloatField(default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    after_connect_check = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="Check code of a later-stage failure after connecting (e.g. GT01, DV001); blank = success.",
    )
    latency_seconds = models.FloatField(null=True, blank=True, help_text="Blank = MEHR['S1SP_SIMULATOR_LATENCY_SECONDS'].")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(installation__isnull=False) | ~Q(device_model=""), name="simulator_behaviour_target"
            ),
        ]

    def __str__(self) -> str:
        target = f"installation {self.installation_id}" if self.installation_id else f"model {self.device_model}"
        return f"{self.get_mode_display()} for {target}"


class SimulatorCall(models.Model):
    """Every call the S1SP simulator received (tests count these to prove exactly-once contact)."""

    idempotency_key = models.CharField(max_length=80, db_index=True)
    installation_id = models.BigIntegerField(db_index=True)
    called_at = models.DateTimeField(default=timezone.now)
    timeout_seconds = models.FloatField()
    wake_sms = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16)
    code = models.CharField(max_length=40, blank=True, default="")
    worker_pid = models.IntegerField(null=True)

    class Meta:
        ordering = ["called_at", "id"]

    def __str__(self) -> str:
        return f"{self.idempotency_key} → {self.status}"


# --- Admin entry points onto models of the cases app (proxies: no tables of their own) ----------
from cases.models import Check, Installation  # noqa: E402


class InstallationRetries(Installation):
    """Installations as the retry engine's operators see them (admin actions: schedule, cancel, pause)."""

    class Meta:
        proxy = True
        verbose_name = "installation retries"
        verbose_name_plural = "installation retries"


class CheckRetirement(Check):
    """Checks, for retiring them in a MEHR version and re-evaluating the cases they block."""

    class Meta:
        proxy = True
        verbose_name = "check retirement"
