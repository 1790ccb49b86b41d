"""Installations with their devices, and the check catalogue."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from cases.api.serializers import isoformat as _dt
from cases.domain import (
    Category,
    Cohort,
    DeviceType,
    ExcludedCategory,
    InstallationType,
    MigrationStatus,
    Party,
    Stage,
    StepKind,
)
from cases.models import Check, Installation
from retries.api.serializers import MigrationAttemptSerializer, SessionAttemptSerializer


class DeviceSerializer(serializers.Serializer):
    device_id = serializers.CharField(help_text="EUI-64, e.g. 70-B3-D5-1F-30-00-A0-08.")
    device_type = serializers.ChoiceField(choices=DeviceType.choices)
    model = serializers.CharField(allow_blank=True)
    firmware_version = serializers.CharField(allow_blank=True)


class InstallationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    supplier = serializers.CharField(help_text="Code of the responsible supplier.")
    smso = serializers.CharField()
    cohort = serializers.ChoiceField(choices=Cohort.choices)
    installation_type = serializers.ChoiceField(choices=InstallationType.choices)
    mpan = serializers.CharField(allow_blank=True)
    mprn = serializers.CharField(allow_blank=True)
    region = serializers.CharField(allow_blank=True)
    comms_provider = serializers.CharField(allow_blank=True)
    migration_status = serializers.ChoiceField(choices=MigrationStatus.choices)
    migration_attempt_count = serializers.IntegerField()
    excluded_category = serializers.ChoiceField(choices=ExcludedCategory.choices, allow_null=True)
    updated_at = serializers.DateTimeField()

    def to_representation(self, installation: Installation) -> dict[str, Any]:
        return {
            "id": installation.pk,
            "supplier": installation.responsible_supplier.code,
            "smso": installation.smso.code,
            "cohort": installation.cohort,
            "installation_type": installation.installation_type,
            "mpan": installation.mpan,
            "mprn": installation.mprn,
            "region": installation.region,
            "comms_provider": installation.comms_provider,
            "migration_status": installation.migration_status,
            "migration_attempt_count": installation.migration_attempt_count,
            "excluded_category": installation.excluded_category,
            "updated_at": _dt(installation.updated_at),
        }


class InstallationCaseSerializer(serializers.Serializer):
    reference = serializers.CharField()
    state = serializers.CharField()
    check_code = serializers.CharField()
    updated_at = serializers.DateTimeField()


class InstallationDetailSerializer(InstallationSerializer):
    devices = DeviceSerializer(many=True)
    cases = InstallationCaseSerializer(many=True, help_text="The installation's cases, newest first (at most 50).")
    migration_attempts = MigrationAttemptSerializer(
        many=True,
        help_text="Migration attempts, newest first: at most MEHR_API_INSTALLATION_HISTORY_LIMIT (default 50); "
        "every attempt is at `migration_attempts_url`.",
    )
    migration_attempts_url = serializers.URLField(help_text="The full migration attempt history, cursor-paged.")
    session_attempts = SessionAttemptSerializer(
        many=True,
        help_text="Communications Hub session attempts, latest due first: at most MEHR_API_INSTALLATION_HISTORY_LIMIT "
        "(default 50); every attempt is at `session_attempts_url`.",
    )
    session_attempts_url = serializers.URLField(help_text="The full session attempt history, cursor-paged.")

    def to_representation(self, installation: Installation) -> dict[str, Any]:
        data = super().to_representation(installation)
        data["devices"] = [
            {
                "device_id": d.eui64,
                "device_type": d.device_type,
                "model": d.model,
                "firmware_version": d.firmware_version,
            }
            for d in installation.devices.all()
        ]
        data["cases"] = [
            {"reference": c.reference, "state": c.state, "check_code": c.check_type.code, "updated_at": _dt(c.updated_at)}
            for c in self.context.get("cases", [])
        ]
        data["migration_attempts"] = self.context.get("migration_attempts", [])
        data["session_attempts"] = self.context.get("session_attempts", [])
        data["migration_attempts_url"] = self._url("api:installation-migration-attempts", installation)
        data["session_attempts_url"] = self._url("api:installation-session-attempts", installation)
        return data

    def _url(self, name: str, installation: Installation) -> str:
        path = reverse(name, kwargs={"pk": installation.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ProcedureStepSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    party = serializers.ChoiceField(choices=Party.choices)
    kind = serializers.ChoiceField(choices=StepKind.choices)
    text = serializers.CharField()


class CheckSerializer(serializers.Serializer):
    code = serializers.CharField()
    stage = serializers.ChoiceField(choices=Stage.choices)
    category = serializers.ChoiceField(choices=Category.choices)
    title = serializers.CharField()
    description = serializers.CharField()
    acting_party = serializers.ChoiceField(choices=Party.choices)
    retryable = serializers.BooleanField()
    blocks_migration = serializers.BooleanField()
    cohorts = serializers.ListField(child=serializers.ChoiceField(choices=Cohort.choices))
    exclusion_category = serializers.ChoiceField(choices=ExcludedCategory.choices, allow_null=True)
    introduced_in = serializers.CharField(help_text="MEHR version.")
    retired_in = serializers.CharField(allow_null=True)
    sla_response_days = serializers.IntegerField()
    sla_resolution_days = serializers.IntegerField()
    procedure = ProcedureStepSerializer(many=True)

    def to_representation(self, check: Check) -> dict[str, Any]:
        return {
            "code": check.code,
            "stage": check.stage,
            "category": check.category,
            "title": check.title,
            "description": check.description,
            "acting_party": check.acting_party,
            "retryable": check.retryable,
            "blocks_migration": check.blocks_migration,
            "cohorts": list(check.cohorts or []),
            "exclusion_category": check.exclusion_category or None,
            "introduced_in": check.introduced_in.version,
            "retired_in": check.retired_in.version if check.retired_in_id else None,
            "sla_response_days": check.sla_response_days,
            "sla_resolution_days": check.sla_resolution_days,
            "procedure": [
                {"order": s.order, "party": s.party, "kind": s.kind, "text": s.text} for s in check.steps.all()
            ],
        }
