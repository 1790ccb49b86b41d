"""Notifications to organisations: preferences per event and channel, and the delivery outbox.

Outbox rows are written in the same transaction as the case change that causes them, and sent by
Celery workers (never from a web request). Each attempt is logged; after the last retry a message
is dead-lettered, visible in the admin with a "resend" action.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationEvent(models.TextChoices):
    CASE_RAISED = "CASE_RAISED", "Case raised"
    AWAITING_USER = "AWAITING_USER", "Awaiting User"
    RETRY_SCHEDULED = "RETRY_SCHEDULED", "Retry scheduled"
    RESOLVED = "RESOLVED", "Resolved"
    EXCLUSION_PROPOSED = "EXCLUSION_PROPOSED", "Exclusion proposed"
    SLA_WARNING = "SLA_WARNING", "SLA warning"
    SLA_BREACH = "SLA_BREACH", "SLA breach"


class Channel(models.TextChoices):
    EMAIL = "EMAIL", "Email"
    WEBHOOK = "WEBHOOK", "Webhook"


class OutboxStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SENT = "SENT", "Sent"
    DEAD = "DEAD", "Dead-lettered"


class NotificationSettings(models.Model):
    """An organisation's channels: who gets email, and its webhook endpoint and shared secret."""

    organisation = models.OneToOneField(
        "cases.Organisation", on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_recipients = models.TextField(
        blank=True,
        default="",
        help_text="Comma- or newline-separated addresses. Empty: the organisation's active agents with an email.",
    )
    webhook_url = models.URLField(max_length=500, blank=True, default="")
    webhook_secret = models.CharField(
        max_length=128, blank=True, default="", help_text="Shared secret for the HMAC-SHA256 signature."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.organisation}"

    @property
    def email_list(self) -> list[str]:
        raw = self.email_recipients.replace("\n", ",").replace(";", ",")
        return [a.strip() for a in raw.split(",") if a.strip()]


class NotificationPreference(models.Model):
    """Which events an organisation hears about, and on which channels."""

    organisation = models.ForeignKey(
        "cases.Organisation", on_delete=models.CASCADE, related_name="notification_preferences"
    )
    event = models.CharField(max_length=24, choices=NotificationEvent.choices)
    by_email = models.BooleanField(default=False)
    by_webhook = models.BooleanField(default=False)

    class Meta:
        ordering = ["organisation_id", "event"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "event"], name="notification_pref_org_event_unique")
        ]

    def __str__(self) -> str:
        channels = [c for c, on in (("email", self.by_email), ("webhook", self.by_webhook)) if on]
        return f"{self.organisation.code}: {self.get_event_display()} by {', '.join(channels) or 'nothing'}"


class OutboxMessage(models.Model):
    """One message to one destination; sent (and retried) by the notifications queue."""

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        "cases.Organisation", on_delete=models.CASCADE, null=True, blank=True, related_name="outbox_messages"
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="outbox_messages"
    )
    event = models.CharField(max_length=24, choices=NotificationEvent.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Webhook URL, or comma-separated email addresses, captured when the message was written.
    destination = models.TextField()
    subject = models.CharField(max_length=255, blank=True, default="")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    resent_at = models.DateTimeField(null=True, blank=True)
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The dispatcher's scan: pending messages by due time.
            models.Index(fields=["next_attempt_at"], condition=Q(status="PENDING"), name="outbox_pending_due_idx"),
            models.Index(fields=["status", "-created_at"], name="outbox_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} by {self.get_channel_display().lower()} ({self.get_status_display()})"


class DeadLetter(OutboxMessage):
    """Proxy for the admin's dead-letter view."""

    class Meta:
        proxy = True
        verbose_name = "dead-lettered message"


class DeliveryAttempt(models.Model):
    """The delivery log: one row per attempt."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    success = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    response_excerpt = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["message_id", "attempt"]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of message {self.message_id}: {'ok' if self.success else 'failed'}"
