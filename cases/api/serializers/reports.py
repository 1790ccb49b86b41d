"""Shapes of the SLA, report, export/import and notification-preference endpoints (issue 6)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.models import DailyReport
from cases.models.notifications import NotificationEvent
from cases.models.sla import ClockKind, ClockParty, ClockStatus

# An organisation code as stored (Organisation.code is a SlugField of 32), or ALL. Query parameters are
# checked against it before they reach the database: anything else is a 400, never a 500.
ORGANISATION_CODE_PATTERN = r"^[-a-zA-Z0-9_]{1,32}$"


# --- SLA clocks -----------------------------------------------------------------------------------
class ClockSerializer(serializers.Serializer):
    """One SLA clock of a case, as read now (working days on the England and Wales calendar)."""

    party = serializers.ChoiceField(choices=ClockParty.choices, help_text="Whose clock: the party that must act.")
    kind = serializers.ChoiceField(choices=ClockKind.choices)
    status = serializers.ChoiceField(choices=ClockStatus.choices)
    target_days = serializers.FloatField(help_text="Target in working days.")
    elapsed_days = serializers.FloatField(help_text="Working days counted so far (pauses excluded).")
    remaining_days = serializers.FloatField(help_text="Working days left; negative once breached.")
    breach_days = serializers.FloatField(help_text="Working days past the target (0 when not breached).")
    breached = serializers.BooleanField()
    warning = serializers.BooleanField(help_text="Within the warning margin of the target.")
    due_at = serializers.DateTimeField(allow_null=True, help_text="While running: when the target is breached.")
    started_at = serializers.DateTimeField(source="clock.started_at")
    met_at = serializers.DateTimeField(source="clock.met_at", allow_null=True)
    breached_at = serializers.DateTimeField(source="clock.breached_at", allow_null=True)
    stopped_at = serializers.DateTimeField(source="clock.stopped_at", allow_null=True)


# --- daily reports ----------------------------------------------------------------------------------
@extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
class CountsField(serializers.DictField):
    """{key: count}."""


class FailedRowSerializer(serializers.Serializer):
    check_code = serializers.CharField()
    stage = serializers.CharField()
    occurrences = serializers.IntegerField(help_text="Failures (case occurrences) recorded on the day.")
    installations = serializers.IntegerField(help_text="Distinct installations that failed.")


@extend_schema_field({"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}})
class AgeingField(serializers.DictField):
    """{state: {ageing bucket: count}}."""


class ReportFiguresSerializer(serializers.Serializer):
    """The figures of one daily report (one User organisation, or all Users)."""

    date = serializers.DateField()
    scope = serializers.CharField(help_text="The organisation code, or ALL.")
    scope_name = serializers.CharField()
    installations_migrated = serializers.IntegerField(help_text="Installations migrated (fully or partly), all time.")
    migrated_on_day = serializers.IntegerField(help_text="Installations that first migrated on the day (migrated_at).")
    installations_by_status = CountsField(help_text="Installations per migration status.")
    raised_on_day = serializers.IntegerField()
    failed = FailedRowSerializer(many=True, help_text="Failures on the day by check code and stage.")
    failed_occurrences = serializers.IntegerField()
    failed_installations = serializers.IntegerField()
    finished_on_day = CountsField(help_text="Cases that finished on the day, per final state.")
    pending_retry = serializers.IntegerField(help_text="Open cases in RETRY_SCHEDULED or RETRYING.")
    exclusion_proposed = serializers.IntegerField()
    exclusion_proposed_by_category = CountsField()
    open_total = serializers.IntegerField()
    open_by_state = AgeingField(help_text="Open cases at the end of the day per state and age since raised.")
    ageing_buckets = serializers.ListField(child=serializers.CharField())
    sla_breached_on_day = CountsField(help_text="Clocks breached on the day, per 'PARTY KIND'.")
    sla_breached_on_day_total = serializers.IntegerField()
    sla_open_breached = serializers.IntegerField(help_text="Open cases with a breached clock at the end of the day.")


class DailyReportSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField(help_text="The organisation code, or ALL for the all-User report.")
    data = serializers.SerializerMethodField()

    class Meta:
        model = DailyReport
        fields = ["report_date", "scope", "generated_at", "data"]

    def get_scope(self, obj: DailyReport) -> str:
        return obj.organisation.code if obj.organisation_id else "ALL"

    @extend_schema_field(ReportFiguresSerializer)
    def get_data(self, obj: DailyReport) -> dict[str, Any]:
        return obj.data


# --- CSV import ----------------------------------------------------------------------------------------
class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The CSV file (UTF-8; columns in docs/NOTIFICATIONS.md).")
    dry_run = serializers.BooleanField(default=True, help_text="true (default): check only, write nothing.")


class ImportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line in the file (the header is line 1).")
    action = serializers.ChoiceField(choices=["create_case", "add_occurrence", "duplicate", "error"])
    source_event_id = serializers.CharField(allow_blank=True)
    check_code = serializers.CharField(allow_blank=True)
    installation_id = serializers.IntegerField(allow_null=True)
    case_reference = serializers.CharField(allow_blank=True)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    ok = serializers.BooleanField(help_text="No file or row errors.")
    written = serializers.BooleanField(help_text="The file was imported (all rows, in one transaction).")
    counts = CountsField()
    file_errors = serializers.ListField(child=serializers.CharField())
    rows = ImportRowSerializer(many=True)
    import_id = serializers.IntegerField(allow_null=True)


# --- notification preferences ---------------------------------------------------------------------
class ChannelsSerializer(serializers.Serializer):
    email = serializers.BooleanField(required=False, default=False)
    webhook = serializers.BooleanField(required=False, default=False)


class ChannelsReadSerializer(ChannelsSerializer):
    label = serializers.CharField()


class _Events(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        # A misspelt event must not be dropped silently (the choice would look saved).
        if isinstance(data, dict) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError({k: ["Unknown event; choose from " + ", ".join(self.fields) + "."]
                                               for k in unknown})
        return super().to_internal_value(data)


def _events_serializer(name: str, child: type[serializers.Serializer], required: bool) -> type[serializers.Serializer]:
    fields = {e.value: child(required=required, help_text=str(e.label)) for e in NotificationEvent}
    return type(name, (_Events,), fields)


EventsSerializer = _events_serializer("NotificationEventsSerializer", ChannelsSerializer, False)
EventsReadSerializer = _events_serializer("NotificationEventsReadSerializer", ChannelsReadSerializer, True)


class PreferencesSerializer(serializers.Serializer):
    """A PUT: omitted settings and events are kept as they are; in an event given, an omitted channel is off."""

    email_recipients = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                             help_text="Addresses separated by commas, semicolons or new lines.")
    webhook_url = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                        help_text="http(s) URL (deliveries to private addresses are refused unless configured).")
    webhook_secret = serializers.CharField(required=False, allow_blank=True, write_only=True, max_length=128,
                                           help_text="Shared secret for the HMAC-SHA256 signature (16+ characters).")
    events = EventsSerializer(help_text="Per event: which channels.")


class PreferencesReadSerializer(serializers.Serializer):
    email_recipients = serializers.CharField(allow_blank=True)
    webhook_url = serializers.CharField(allow_blank=True)
    webhook_secret_set = serializers.BooleanField(help_text="A secret is stored (it is never returned).")
    events = EventsReadSerializer()
