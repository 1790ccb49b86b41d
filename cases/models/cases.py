from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

from cases.domain import (
    AWAITING_STATES,
    FINISHED_STATES,
    OPEN_STATES,
    CaseState,
    Category,
    Cohort,
    EventKind,
    ExcludedCategory,
    InstallationType,
    NoteKind,
    Party,
    Priority,
    Stage,
    Visibility,
)
from cases.lifecycle import (
    ENGINE_RESOLVABLE_STATES,
    ESCALATABLE_STATES,
    EXCLUDABLE_STATES,
    REOPENABLE_STATES,
    RETRY_SOURCES,
    TRANSITIONS,
    WITHDRAWABLE_STATES,
    awaiting_sources,
)
from cases.roles import role_of

REFERENCE_PREFIX = "MEHR-"
_REFERENCE_RE = re.compile(r"^\s*(?:MEHR-)?0*(\d{1,18})\s*$", re.IGNORECASE)


def allowed(name: str):  # type: ignore[no-untyped-def]
    """django-fsm permission callable: deny unless the actor's role is listed for this transition."""
    roles = TRANSITIONS[name].roles

    def permission(instance: Case, user: object) -> bool:
        return role_of(user) in roles

    permission.__name__ = f"may_{name}"
    return permission


# --- conditions (read the instance as the service has prepared it) ----------------------------
def owner_and_assignee_set(case: Case) -> bool:
    return bool(case.owner_party) and case.assignee_id is not None


def check_is_retryable(case: Case) -> bool:
    return case.check_type.retryable


def installation_has_attempts_left(case: Case) -> bool:
    # The limit is the installation's retry policy's (whose default is
    # settings.MEHR["MIGRATION_ATTEMPTS_BEFORE_EXCLUSION"]); migration_attempt_count counts failed attempts.
    from retries.policies import migration_attempts_limit_for

    return case.installation.migration_attempt_count < migration_attempts_limit_for(case.installation)


def incident_reference_set(case: Case) -> bool:
    return bool(case.incident_reference)


def excluded_category_set(case: Case) -> bool:
    return bool(case.excluded_category)


def within_quiet_period(case: Case) -> bool:
    if case.finished_at is None:
        return False
    days = settings.MEHR["CLOSE_QUIET_PERIOD_DAYS"]
    return timezone.now() - case.finished_at <= timezone.timedelta(days=days)


def has_state_before_escalation(case: Case) -> bool:
    return bool(case.state_before_escalation)


CONDITION_MESSAGES = {
    "owner_and_assignee_set": "The case needs an owner party and an assignee.",
    "check_is_retryable": "This check is not retryable: a migration retry cannot fix it.",
    "installation_has_attempts_left": "The installation has no migration attempts left; propose exclusion instead.",
    "incident_reference_set": "An incident reference is required to escalate.",
    "excluded_category_set": "A TMAD excluded category is required.",
    "within_quiet_period": "The quiet period for reopening has passed.",
    "has_state_before_escalation": "The case does not know which state it was escalated from.",
}


class Case(FSMModelMixin, models.Model):
    """One migration exception on one installation against one check."""

    # Foreign keys without their own index where a composite index below starts with the column.
    installation = models.ForeignKey(
        "cases.Installation", on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    # Denormalised from the installation: visibility filters on it for every read. No index of its own:
    # every composite index below that starts with it serves the plain lookups too.
    supplier = models.ForeignKey(
        "cases.Organisation", on_delete=models.PROTECT, related_name="supplier_cases", db_index=False
    )
    # Denormalised from the installation so that the queue/API filters on them need no join to the
    # installations (a million rows); written when the case is created and kept in step by
    # installation_update (cases.services.installations), the only writer of an installation's details.
    cohort = models.CharField(max_length=12, choices=Cohort.choices, blank=True, default="")
    installation_type = models.CharField(max_length=8, choices=InstallationType.choices, blank=True, default="")
    check_type = models.ForeignKey(
        "cases.Check", on_delete=models.PROTECT, related_name="cases", verbose_name="check", db_index=False
    )
    stage = models.CharField(max_length=24, choices=Stage.choices)
    category = models.CharField(max_length=24, choices=Category.choices)
    owner_party = models.CharField(max_length=8, choices=Party.choices, blank=True, default="")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_cases",
        db_index=False,
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    state = FSMField(default=CaseState.RAISED, choices=CaseState.choices, protected=True, max_length=24)
    state_before_escalation = models.CharField(max_length=24, choices=CaseState.choices, blank=True, default="")
    occurrence_count = models.PositiveIntegerField(default=1)
    first_occurred_at = models.DateTimeField()
    last_occurred_at = models.DateTimeField()
    resolution = models.TextField(blank=True, default="")
    incident_reference = models.CharField(max_length=64, blank=True, default="")
    excluded_category = models.CharField(max_length=40, choices=ExcludedCategory.choices, blank=True, default="")
    version = models.PositiveIntegerField(default=1, help_text="Optimistic concurrency: bumped on every change.")
    raised_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When it was resolved/excluded/withdrawn.")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The list read paths (queue, API, admin) filter by visibility (supplier for a User) and page
        # in a unique order: each ordering index ends in id so the keyset/LIMIT is one index range.
        indexes = [
            models.Index(fields=["supplier", "-updated_at", "-id"], name="case_supplier_updated_idx"),
            models.Index(fields=["supplier", "state", "-updated_at", "-id"], name="case_supplier_state_upd_idx"),
            models.Index(fields=["supplier", "priority", "id"], name="case_supplier_priority_idx"),
            models.Index(fields=["state", "-updated_at", "-id"], name="case_state_upd_idx"),
            models.Index(fields=["priority", "id"], name="case_priority_idx"),
            models.Index(fields=["-updated_at", "-id"], name="case_updated_idx"),
            # The open working set (about a tenth of the cases) in the queue's default view and the
            # API's open=true: without these an "oldest first" or priority page walks past hundreds
            # of thousands of finished cases before it finds 50 open ones.
            models.Index(fields=["-updated_at", "-id"], condition=Q(state__in=OPEN_STATES), name="case_open_updated_idx"),
            models.Index(fields=["priority", "id"], condition=Q(state__in=OPEN_STATES), name="case_open_priority_idx"),
            models.Index(fields=["supplier", "-updated_at", "-id"], condition=Q(state__in=OPEN_STATES),
                         name="case_open_supplier_upd_idx"),
            models.Index(fields=["supplier", "priority", "id"], condition=Q(state__in=OPEN_STATES),
                         name="case_open_supplier_prio_idx"),
            models.Index(fields=["check_type", "state"], name="case_check_state_idx"),
            models.Index(fields=["installation", "state"], name="case_installation_idx"),
            models.Index(fields=["assignee", "state"], name="case_assignee_idx"),
            models.Index(fields=["stage", "state"], name="case_stage_idx"),
            models.Index(fields=["category", "state"], name="case_category_idx"),
            # Search by incident reference (admin, UI): only escalated cases carry one.
            models.Index(fields=["incident_reference"], condition=~Q(incident_reference=""), name="case_incident_idx"),
        ]
        constraints = [
            # One open case per installation and check: repeats become occurrences.
            models.UniqueConstraint(
                fields=["installation", "check_type"],
                condition=Q(state__in=OPEN_STATES),
                name="case_one_open_per_installation_check",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every way of creating a case (services, factories, fixtures) gets the installation's details;
        # bulk_create callers (batch raising, the dataset generator) set them themselves.
        if self._state.adding and self.installation_id and not (self.cohort and self.installation_type):
            self.copy_installation_details()
        super().save(*args, **kwargs)

    def copy_installation_details(self) -> None:
        """The installation's cohort and type, denormalised for the list filters."""
        self.cohort = self.installation.cohort
        self.installation_type = self.installation.installation_type

    # --- reference ------------------------------------------------------------------------
    @property
    def reference(self) -> str:
        return f"{REFERENCE_PREFIX}{self.pk:06d}" if self.pk else f"{REFERENCE_PREFIX}(unsaved)"

    @staticmethod
    def pk_from_reference(reference: str) -> int | None:
        """'MEHR-000123' (or '123') → 123; None when it is not a reference."""
        match = _REFERENCE_RE.match(str(reference))
        return int(match.group(1)) if match else None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_awaiting(self) -> bool:
        return self.state in AWAITING_STATES

    # --- lifecycle (sources/targets here; roles and fields in cases.lifecycle) --------------
    @transition(field=state, source=CaseState.RAISED, target=CaseState.TRIAGED,
                permission=allowed("triage"), conditions=[owner_and_assignee_set])
    def triage(self) -> None:
        pass

    @transition(field=state, source=awaiting_sources(CaseState.AWAITING_DCC), target=CaseState.AWAITING_DCC,
                permission=allowed("await_dcc"))
    def await_dcc(self) -> None:
        self.owner_party = Party.DCC

    @transition(field=state, source=awaiting_sources(CaseState.AWAITING_USER), target=CaseState.AWAITING_USER,
                permission=allowed("await_user"))
    def await_user(self) -> None:
        self.owner_party = Party.USER

    @transition(field=state, source=awaiting_sources(CaseState.AWAITING_SMSO), target=CaseState.AWAITING_SMSO,
                permission=allowed("await_smso"))
    def await_smso(self) -> None:
        self.owner_party = Party.SMSO

    @transition(field=state, source=CaseState.AWAITING_USER, target=CaseState.AWAITING_DCC,
                permission=allowed("hand_back_to_dcc"))
    def hand_back_to_dcc(self) -> None:
        self.owner_party = Party.DCC

    @transition(field=state, source=RETRY_SOURCES, target=CaseState.RETRY_SCHEDULED,
                permission=allowed("schedule_retry"),
                conditions=[check_is_retryable, installation_has_attempts_left])
    def schedule_retry(self) -> None:
        self.owner_party = Party.DCC

    @transition(field=state, source=CaseState.RETRY_SCHEDULED, target=CaseState.RETRYING,
                permission=allowed("start_retry"))
    def start_retry(self) -> None:
        pass

    @transition(field=state, source=ENGINE_RESOLVABLE_STATES, target=CaseState.RESOLVED, permission=allowed("resolve"))
    def resolve(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=state, source=ENGINE_RESOLVABLE_STATES, target=CaseState.RESOLVED_PARTIAL,
                permission=allowed("resolve_partial"))
    def resolve_partial(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=state, source=CaseState.RETRYING, target=CaseState.TRIAGED, permission=allowed("retry_failed"))
    def retry_failed(self) -> None:
        pass

    @transition(field=state, source=ESCALATABLE_STATES, target=CaseState.ESCALATED,
                permission=allowed("escalate"), conditions=[incident_reference_set])
    def escalate(self) -> None:
        self.state_before_escalation = self.state
        self.priority = min(self.priority, Priority.HIGH)

    @transition(field=state, source=CaseState.ESCALATED, target=RETURN_VALUE(*ESCALATABLE_STATES),
                permission=allowed("de_escalate"), conditions=[has_state_before_escalation])
    def de_escalate(self) -> str:
        previous = self.state_before_escalation
        self.state_before_escalation = ""
        return previous

    @transition(field=state, source=EXCLUDABLE_STATES, target=CaseState.EXCLUSION_PROPOSED,
                permission=allowed("propose_exclusion"), conditions=[excluded_category_set])
    def propose_exclusion(self) -> None:
        self.owner_party = Party.DCC

    @transition(field=state, source=CaseState.EXCLUSION_PROPOSED, target=CaseState.EXCLUDED,
                permission=allowed("exclude"), conditions=[excluded_category_set])
    def exclude(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=state, source=CaseState.EXCLUSION_PROPOSED, target=CaseState.TRIAGED,
                permission=allowed("reject_exclusion"))
    def reject_exclusion(self) -> None:
        self.excluded_category = ""

    @transition(field=state, source=WITHDRAWABLE_STATES, target=CaseState.WITHDRAWN, permission=allowed("withdraw"))
    def withdraw(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=state, source=FINISHED_STATES, target=CaseState.CLOSED, permission=allowed("close"))
    def close(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=state, source=REOPENABLE_STATES, target=CaseState.TRIAGED,
                permission=allowed("reopen"), conditions=[within_quiet_period])
    def reopen(self) -> None:
        self.finished_at = None


class CaseOccurrence(models.Model):
    """One reported failure; (source, source_event_id) makes raising idempotent."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="occurrences")
    source = models.CharField(max_length=40)
    source_event_id = models.CharField(max_length=128)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    detail = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "source_event_id"], name="occurrence_source_event_unique")
        ]
        ordering = ["occurred_at"]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_event_id}"


class ChecklistItem(models.Model):
    """A procedure step copied onto the case when it is raised; ticks are recorded as events."""

    # Indexed by checklist_case_order_unique (case, order); no separate index to maintain.
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="checklist", db_index=False)
    order = models.PositiveSmallIntegerField()
    party = models.CharField(max_length=8, choices=Party.choices)
    kind = models.CharField(max_length=12)
    text = models.TextField()
    done = models.BooleanField(default=False)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case_id", "order"]
        constraints = [models.UniqueConstraint(fields=["case", "order"], name="checklist_case_order_unique")]

    def __str__(self) -> str:
        return f"{self.order}. {self.text[:60]}"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("Case events are append-only.")

    def delete(self):  # type: ignore[no-untyped-def]
        raise PermissionError("Case events are append-only.")


class CaseEvent(models.Model):
    """The append-only audit trail: who, which organisation, when, from, to, why."""

    # Indexed by event_case_time_idx (case, created_at); no separate index to maintain.
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor_organisation = models.ForeignKey("cases.Organisation", on_delete=models.PROTECT, null=True, blank=True)
    actor_role = models.CharField(max_length=20, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    from_state = models.CharField(max_length=24, blank=True, default="")
    to_state = models.CharField(max_length=24, blank=True, default="")
    transition = models.CharField(max_length=32, blank=True, default="")
    note_kind = models.CharField(max_length=16, choices=NoteKind.choices, blank=True, default="")
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.SHARED)
    body = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="event_case_time_idx")]
        # Django's plain base manager (used for related lookups, and reachable as _base_manager)
        # would otherwise offer an update()/delete() that skips the append-only queryset.
        base_manager_name = "objects"

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Case events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("Case events are append-only.")

    @property
    def actor_label(self) -> str:
        if self.actor_id is None:
            return "MEHR system"
        return self.actor.get_full_name() or self.actor.get_username()


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.case_id}/{timezone.now():%Y%m%d%H%M%S}-{filename}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    event = models.OneToOneField(CaseEvent, on_delete=models.PROTECT, related_name="attachment")
    file = models.FileField(upload_to=attachment_path)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.SHARED)
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.original_name
