"""Cases: list rows, detail (with allowed transitions, checklist and installation summary)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cases.api.serializers import isoformat as _dt
from cases.domain import (
    CaseState,
    Category,
    Cohort,
    ExcludedCategory,
    InstallationType,
    MigrationStatus,
    Party,
    Priority,
    Stage,
)
from cases.models import Case, ChecklistItem


class InstallationSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    mpan = serializers.CharField(help_text="MPAN core (13 digits), empty for gas-only installations.")
    mprn = serializers.CharField(help_text="MPRN (6-10 digits), empty for electricity-only installations.")
    cohort = serializers.ChoiceField(choices=Cohort.choices)
    installation_type = serializers.ChoiceField(choices=InstallationType.choices)
    migration_status = serializers.ChoiceField(choices=MigrationStatus.choices)


def installation_summary(installation: Any) -> dict[str, Any]:
    return {
        "id": installation.pk,
        "mpan": installation.mpan,
        "mprn": installation.mprn,
        "cohort": installation.cohort,
        "installation_type": installation.installation_type,
        "migration_status": installation.migration_status,
    }


class CaseSerializer(serializers.Serializer):
    """One case in a list."""

    reference = serializers.CharField(help_text="MEHR-000123")
    state = serializers.ChoiceField(choices=CaseState.choices)
    stage = serializers.ChoiceField(choices=Stage.choices)
    category = serializers.ChoiceField(choices=Category.choices)
    check_code = serializers.CharField()
    check_title = serializers.CharField()
    priority = serializers.ChoiceField(choices=Priority.choices)
    owner_party = serializers.ChoiceField(choices=Party.choices, allow_blank=True)
    assignee = serializers.CharField(allow_null=True, help_text="Username of the assignee.")
    supplier = serializers.CharField(help_text="Code of the User (supplier) organisation.")
    installation = InstallationSummarySerializer()
    occurrence_count = serializers.IntegerField()
    first_occurred_at = serializers.DateTimeField()
    last_occurred_at = serializers.DateTimeField()
    raised_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    incident_reference = serializers.CharField(allow_blank=True)
    excluded_category = serializers.ChoiceField(choices=ExcludedCategory.choices, allow_blank=True)
    version = serializers.IntegerField(help_text="Send it back (If-Match or `version`) when firing a transition.")

    def to_representation(self, case: Case) -> dict[str, Any]:
        assignee = case.assignee
        return {
            "reference": case.reference,
            "state": case.state,
            "stage": case.stage,
            "category": case.category,
            "check_code": case.check_type.code,
            "check_title": case.check_type.title,
            "priority": case.priority,
            "owner_party": case.owner_party,
            "assignee": assignee.get_username() if assignee is not None else None,
            "supplier": case.supplier.code,
            "installation": installation_summary(case.installation),
            "occurrence_count": case.occurrence_count,
            "first_occurred_at": _dt(case.first_occurred_at),
            "last_occurred_at": _dt(case.last_occurred_at),
            "raised_at": _dt(case.raised_at),
            "updated_at": _dt(case.updated_at),
            "finished_at": _dt(case.finished_at),
            "closed_at": _dt(case.closed_at),
            "incident_reference": case.incident_reference,
            "excluded_category": case.excluded_category,
            "version": case.version,
        }


class ChecklistItemSerializer(serializers.Serializer):
    step = serializers.IntegerField(help_text="The step number (PATCH …/checklist/{step}/).")
    party = serializers.ChoiceField(choices=Party.choices)
    kind = serializers.CharField()
    text = serializers.CharField()
    done = serializers.BooleanField()
    done_by = serializers.CharField(allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, item: ChecklistItem) -> dict[str, Any]:
        return {
            "step": item.order,
            "party": item.party,
            "kind": item.kind,
            "text": item.text,
            "done": item.done,
            "done_by": item.done_by.get_username() if item.done_by_id else None,
            "done_at": _dt(item.done_at),
        }


class ChecklistTickSerializer(serializers.Serializer):
    done = serializers.BooleanField(help_text="true ticks the step, false unticks it.")


class TransitionOptionSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="POST …/transitions/{name}/")
    label = serializers.CharField()
    help = serializers.CharField()
    enabled = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Why it is not enabled now.")
    required_fields = serializers.ListField(child=serializers.CharField())
    optional_fields = serializers.ListField(child=serializers.CharField())
    note_required = serializers.BooleanField()


class InstallationDetailSummarySerializer(InstallationSummarySerializer):
    smso = serializers.CharField(help_text="Code of the SMSO organisation.")
    region = serializers.CharField()
    comms_provider = serializers.CharField()
    migration_attempt_count = serializers.IntegerField()
    excluded_category = serializers.ChoiceField(choices=ExcludedCategory.choices, allow_null=True)


class CaseDetailSerializer(CaseSerializer):
    """One case with what the caller may do next."""

    installation = InstallationDetailSummarySerializer()
    check_retryable = serializers.BooleanField()
    state_before_escalation = serializers.CharField(allow_blank=True)
    resolution = serializers.CharField(allow_blank=True)
    checklist = ChecklistItemSerializer(many=True)
    allowed_transitions = TransitionOptionSerializer(many=True)

    def to_representation(self, case: Case) -> dict[str, Any]:
        data = super().to_representation(case)
        installation = case.installation
        data["installation"].update(
            {
                "smso": installation.smso.code,
                "region": installation.region,
                "comms_provider": installation.comms_provider,
                "migration_attempt_count": installation.migration_attempt_count,
                "excluded_category": installation.excluded_category,
            }
        )
        data["check_retryable"] = case.check_type.retryable
        data["state_before_escalation"] = case.state_before_escalation
        data["resolution"] = case.resolution
        checklist = self.context.get("checklist", [])
        data["checklist"] = [ChecklistItemSerializer().to_representation(item) for item in checklist]
        data["allowed_transitions"] = [
            {
                "name": option.spec.name,
                "label": option.spec.label,
                "help": option.spec.help,
                "enabled": option.enabled,
                "reasons": list(option.reasons),
                "required_fields": list(option.spec.required_fields),
                "optional_fields": list(option.spec.optional_fields),
                "note_required": option.spec.note_required,
            }
            for option in self.context.get("transitions", [])
        ]
        return data


class TransitionRequestSerializer(serializers.Serializer):
    """What a transition takes; which fields apply is listed per transition in `allowed_transitions`."""

    version = serializers.IntegerField(
        required=False, min_value=1, help_text="The case version you read (or send it as the If-Match header)."
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=20_000, trim_whitespace=True)
    owner_party = serializers.ChoiceField(choices=Party.choices, required=False)
    assignee = serializers.CharField(required=False, max_length=150, help_text="Username of the new assignee.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    incident_reference = serializers.CharField(required=False, max_length=64)
    excluded_category = serializers.ChoiceField(choices=ExcludedCategory.choices, required=False)
