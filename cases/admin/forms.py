"""Forms of the case admin: one per lifecycle transition that needs input, built from cases.lifecycle."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from cases.domain import DCC_STAFF_ROLES, ExcludedCategory, Party, Priority, Role
from cases.lifecycle import TRANSITIONS, TransitionSpec
from cases.models import Case


def transition_needs_form(spec: TransitionSpec) -> bool:
    """Transitions with fields or a required note (or a User correction) open a form; others fire at once."""
    return bool(spec.fields or spec.note_required or spec.correction_required_for)


class TransitionForm(forms.Form):
    """Fields are added per transition; ``expected_version`` carries the version the person saw."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    spec: TransitionSpec

    def __init__(self, *args: Any, case: Case | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case = case
        if "assignee" in self.fields and case is not None:
            user_model = get_user_model()
            self.fields["assignee"].queryset = (
                user_model.objects.filter(is_active=True)
                .filter(
                    Q(membership__role__in=list(DCC_STAFF_ROLES))
                    | Q(membership__role=Role.USER_AGENT, membership__organisation_id=case.supplier_id)
                )
                .order_by("username")
            )
            if case.assignee_id and not self.is_bound:
                self.initial.setdefault("assignee", case.assignee_id)
        if case is not None and not self.is_bound:
            for name in ("owner_party", "priority", "excluded_category", "incident_reference"):
                if name in self.fields and getattr(case, name, None):
                    self.initial.setdefault(name, getattr(case, name))
            self.initial.setdefault("expected_version", case.version)

    def service_kwargs(self) -> dict[str, Any]:
        """cleaned_data as keyword arguments of case_transition (blank values left out)."""
        data = dict(self.cleaned_data)
        data.pop("expected_version", None)
        return {k: v for k, v in data.items() if v not in (None, "")}


def _field(name: str, required: bool) -> forms.Field:
    if name == "owner_party":
        return forms.ChoiceField(choices=[("", "---------"), *Party.choices], required=required, label="Owner party")
    if name == "assignee":
        return forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=required)
    if name == "priority":
        return forms.TypedChoiceField(
            choices=[("", "---------"), *Priority.choices], coerce=int, empty_value=None, required=required
        )
    if name == "incident_reference":
        return forms.CharField(max_length=64, required=required, label="Incident reference")
    if name == "excluded_category":
        return forms.ChoiceField(
            choices=[("", "---------"), *ExcludedCategory.choices], required=required, label="TMAD excluded category"
        )
    raise KeyError(name)


def transition_form_for(name: str) -> type[TransitionForm]:
    spec = TRANSITIONS[name]
    attrs: dict[str, Any] = {"spec": spec}
    for field_name in spec.required_fields:
        # Required unless the case already carries it (the service checks that, e.g. exclude).
        attrs[field_name] = _field(field_name, required=False)
    for field_name in spec.optional_fields:
        attrs[field_name] = _field(field_name, required=False)
    attrs["note"] = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=spec.note_required,
        help_text=(
            "Required: say why." if spec.note_required
            else "User accounts: describe the correction you made." if spec.correction_required_for
            else "Optional."
        ),
    )
    return type(f"{''.join(p.title() for p in name.split('_'))}TransitionForm", (TransitionForm,), attrs)


TRANSITION_FORMS: dict[str, type[TransitionForm]] = {
    name: transition_form_for(name) for name, spec in TRANSITIONS.items() if transition_needs_form(spec)
}


class CaseAdminForm(forms.ModelForm):
    """The case change form: only the assignee is editable (through case_assign); the version rides along."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Case
        fields = ["assignee"]
