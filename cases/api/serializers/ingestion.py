"""Exception events from DCC systems (S1SP, MCC tooling). These describe the wire format for the
schema; the view validates items with a fast hand-written parser (cases.api.ingestion) that
implements exactly these rules, because a DRF serializer costs too much per item at 1,000 a batch."""

from __future__ import annotations

from rest_framework import serializers

from cases.domain import Stage


class ExceptionEventSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=40, help_text="The reporting system, e.g. S1SP.")
    source_event_id = serializers.CharField(
        max_length=128, help_text="The event's id in that system: (source, source_event_id) makes ingestion idempotent."
    )
    check_code = serializers.CharField(max_length=16, help_text="A check code from the catalogue, e.g. CM001.")
    stage = serializers.ChoiceField(choices=Stage.choices, required=False, help_text="Defaults to the check's stage.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone; not in the future.")
    detail = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    mpan = serializers.RegexField(
        r"^\d{13}$", required=False, help_text="MPAN core: 13 digits, the last a check digit."
    )
    mprn = serializers.RegexField(r"^\d{6,10}$", required=False, help_text="MPRN: 6 to 10 digits.")
    device_id = serializers.RegexField(
        r"^[0-9A-Fa-f]{2}([-:]?[0-9A-Fa-f]{2}){7}$",
        required=False,
        help_text="EUI-64 of any device of the installation, e.g. 70-B3-D5-1F-30-00-A0-08.",
    )


class ExceptionEventBatchSerializer(serializers.Serializer):
    events = serializers.ListField(
        child=ExceptionEventSerializer(), min_length=1, max_length=1000, help_text="1 to 1,000 events."
    )


class ExceptionEventResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the request (0 for a single event).")
    source = serializers.CharField(allow_null=True)
    source_event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(
        choices=[("created", "opened a new case"), ("added", "added an occurrence to an open case"), ("invalid", "invalid")],
        help_text="For a replay, what the first delivery did.",
    )
    duplicate = serializers.BooleanField(help_text="The event had been received before: nothing was written.")
    case = serializers.CharField(allow_null=True, help_text="Reference of the case the event went to.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="Per-field messages for invalid events."
    )


class ExceptionEventCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    added = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    invalid = serializers.IntegerField()


class ExceptionEventBatchResultSerializer(serializers.Serializer):
    counts = ExceptionEventCountsSerializer()
    results = ExceptionEventResultSerializer(many=True)
