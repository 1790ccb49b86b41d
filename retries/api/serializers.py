"""Read-optimised serializers of retry state (declared fields for the schema, plain dicts out)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cases.api.serializers import isoformat as _dt
from cases.domain import Cohort, InstallationType, Stage
from retries.models import (
    AttemptKind,
    MigrationAttempt,
    MigrationOutcome,
    RetryPolicy,
    SessionAttempt,
    SessionState,
)


class RetryPolicySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mehr_version = serializers.CharField(allow_null=True, help_text="In force from this MEHR version; null = every version.")
    cohort = serializers.ChoiceField(choices=Cohort.choices, allow_blank=True, help_text="Blank = any cohort.")
    installation_type = serializers.ChoiceField(choices=InstallationType.choices, allow_blank=True)
    is_active = serializers.BooleanField()
    auto_select = serializers.BooleanField()
    revision = serializers.IntegerField()
    wake_sms_per_attempt = serializers.IntegerField()
    session_timeout_seconds = serializers.IntegerField()
    session_attempts_per_window = serializers.IntegerField()
    attempt_interval_seconds = serializers.IntegerField()
    backoff_enabled = serializers.BooleanField()
    backoff_multiplier = serializers.FloatField()
    jitter_enabled = serializers.BooleanField()
    max_interval_seconds = serializers.IntegerField()
    window_opens_at = serializers.RegexField(
        r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", help_text="Local (London) time a rescheduled window opens, HH:MM:SS."
    )
    window_length_minutes = serializers.IntegerField()
    reschedule_delay_working_days = serializers.IntegerField()
    migration_attempts_before_exclusion = serializers.IntegerField()
    sms_budget_per_installation = serializers.IntegerField()
    firmware_upgrade_first = serializers.BooleanField()
    migration_after_firmware_working_days = serializers.IntegerField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, policy: RetryPolicy) -> dict[str, Any]:
        return {
            "id": policy.pk,
            "name": policy.name,
            "mehr_version": policy.mehr_version.version if policy.mehr_version_id else None,
            "cohort": policy.cohort,
            "installation_type": policy.installation_type,
            "is_active": policy.is_active,
            "auto_select": policy.auto_select,
            "revision": policy.revision,
            "wake_sms_per_attempt": policy.wake_sms_per_attempt,
            "session_timeout_seconds": policy.session_timeout_seconds,
            "session_attempts_per_window": policy.session_attempts_per_window,
            "attempt_interval_seconds": policy.attempt_interval_seconds,
            "backoff_enabled": policy.backoff_enabled,
            "backoff_multiplier": policy.backoff_multiplier,
            "jitter_enabled": policy.jitter_enabled,
            "max_interval_seconds": policy.max_interval_seconds,
            "window_opens_at": policy.window_opens_at.isoformat(),
            "window_length_minutes": policy.window_length_minutes,
            "reschedule_delay_working_days": policy.reschedule_delay_working_days,
            "migration_attempts_before_exclusion": policy.migration_attempts_before_exclusion,
            "sms_budget_per_installation": policy.sms_budget_per_installation,
            "firmware_upgrade_first": policy.firmware_upgrade_first,
            "migration_after_firmware_working_days": policy.migration_after_firmware_working_days,
            "updated_at": _dt(policy.updated_at),
        }


class MigrationAttemptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AttemptKind.choices)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    stage_reached = serializers.ChoiceField(choices=Stage.choices, allow_blank=True)
    outcome = serializers.ChoiceField(choices=MigrationOutcome.choices)
    failure_check = serializers.CharField(allow_null=True, help_text="Check code of the failure.")
    policy = serializers.CharField(help_text="Retry policy name.")
    policy_revision = serializers.IntegerField()
    reason = serializers.CharField(allow_blank=True)
    sms_sent = serializers.IntegerField()
    detail = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, attempt: MigrationAttempt) -> dict[str, Any]:
        return {
            "id": attempt.pk,
            "number": attempt.number,
            "kind": attempt.kind,
            "window_start": _dt(attempt.window_start),
            "window_end": _dt(attempt.window_end),
            "stage_reached": attempt.stage_reached,
            "outcome": attempt.outcome,
            "failure_check": attempt.failure_check.code if attempt.failure_check_id else None,
            "policy": attempt.policy.name,
            "policy_revision": attempt.policy_revision,
            "reason": attempt.reason,
            "sms_sent": attempt.sms_sent,
            "detail": attempt.detail,
            "created_at": _dt(attempt.created_at),
            "started_at": _dt(attempt.started_at),
            "finished_at": _dt(attempt.finished_at),
        }


class SessionAttemptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    migration_attempt = serializers.IntegerField(help_text="Number of the migration attempt it belongs to.")
    number = serializers.IntegerField(help_text="1, 2, 3 … within the migration window.")
    due_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=SessionState.choices)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    timeout_seconds = serializers.IntegerField()
    result_code = serializers.CharField(allow_blank=True)
    result_detail = serializers.CharField(allow_blank=True)
    sms_sent = serializers.IntegerField()

    def to_representation(self, attempt: SessionAttempt) -> dict[str, Any]:
        return {
            "id": attempt.pk,
            "migration_attempt": attempt.migration_attempt.number,
            "number": attempt.number,
            "due_at": _dt(attempt.due_at),
            "state": attempt.state,
            "started_at": _dt(attempt.started_at),
            "finished_at": _dt(attempt.finished_at),
            "timeout_seconds": attempt.timeout_seconds,
            "result_code": attempt.result_code,
            "result_detail": attempt.result_detail,
            "sms_sent": attempt.sms_sent,
        }
