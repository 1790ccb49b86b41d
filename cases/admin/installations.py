"""Admin of installations and their devices."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from cases.models import Device, Installation
from cases.selectors import devices_visible_to, installations_visible_to
from cases.services import installation_update
from cases.validators import normalise_eui64

from .base import VisibilityScopedAdminMixin
from .organisations import DccWritesMixin


class DeviceForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ("installation", "eui64", "device_type", "model", "firmware_version")

    def clean_eui64(self) -> str:
        # Accept 70b3d51f3000a008 or 70:B3:…; store the canonical upper-case hyphenated form.
        try:
            return normalise_eui64(self.cleaned_data["eui64"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc



class DeviceInline(admin.TabularInline):
    model = Device
    form = DeviceForm
    extra = 0
    fields = ("eui64", "device_type", "model", "firmware_version")


def installation_search_q(term: str, *, prefix: bool = False) -> Q | None:
    """Exact (indexed) lookups: pk, MPAN, MPRN, device ID; ``prefix`` for autocomplete typing."""
    term = term.strip()
    if not term:
        return None
    if term.isdigit():
        q = Q(mpan__startswith=term) | Q(mprn__startswith=term) if prefix else Q(mpan=term) | Q(mprn=term)
        if len(term) <= 9:
            q |= Q(pk=int(term))
        return q
    try:
        eui64 = normalise_eui64(term)
    except ValidationError:
        return Q(pk__in=[])
    return Q(pk__in=Device.objects.filter(eui64=eui64).values("installation_id"))


@admin.register(Installation)
class InstallationAdmin(VisibilityScopedAdminMixin, DccWritesMixin, admin.ModelAdmin):
    visibility_selector = staticmethod(installations_visible_to)
    list_display = ("id", "mpan", "mprn", "responsible_supplier", "smso", "cohort", "installation_type",
                    "migration_status", "migration_attempt_count", "excluded_category")
    list_filter = ("cohort", "installation_type", "migration_status", "excluded_category", "responsible_supplier")
    list_select_related = ("responsible_supplier", "smso")
    ordering = ("-id",)
    show_full_result_count = False
    search_fields = ("mpan",)  # shows the box; get_search_results does the real work
    search_help_text = "Exact MPAN, MPRN, device ID (EUI-64) or installation number."
    autocomplete_fields = ("responsible_supplier", "smso")
    # Owned by the retry engine and the lifecycle services, not edited by hand.
    readonly_fields = ("migration_status", "migration_attempt_count", "excluded_category", "created_at", "updated_at")
    inlines = (DeviceInline,)

    def save_model(self, request: HttpRequest, obj: Installation, form: forms.ModelForm, change: bool) -> None:
        # Through the service: a changed cohort or installation type is copied onto the cases.
        installation_update(installation=obj, changed_fields=form.changed_data)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        autocomplete = request.path.endswith("/autocomplete/")
        q = installation_search_q(search_term, prefix=autocomplete)
        return (queryset if q is None else queryset.filter(q)), False


@admin.register(Device)
class DeviceAdmin(VisibilityScopedAdminMixin, DccWritesMixin, admin.ModelAdmin):
    visibility_selector = staticmethod(devices_visible_to)
    form = DeviceForm
    list_display = ("eui64", "device_type", "model", "firmware_version", "installation")
    list_filter = ("device_type",)
    list_select_related = ("installation",)
    ordering = ("-id",)
    show_full_result_count = False
    search_fields = ("eui64",)
    search_help_text = "Device ID (EUI-64), in any case, with or without separators."
    autocomplete_fields = ("installation",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(eui64=normalise_eui64(term)), False
        except ValidationError:
            return queryset.none(), False
