"""Admin of the catalogue (checks with their procedures, MEHR versions) and the working calendar."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from cases.models import Check, MehrVersion, NonWorkingDay, ProcedureStep
from cases.services.catalogue import catalogue_load

from .organisations import DccWritesMixin


class ProcedureStepInline(admin.TabularInline):
    model = ProcedureStep
    extra = 1
    fields = ("order", "party", "kind", "text")
    ordering = ("order",)


@admin.register(Check)
class CheckAdmin(DccWritesMixin, admin.ModelAdmin):
    list_display = ("code", "title", "stage", "category", "acting_party", "retryable", "blocks_migration",
                    "exclusion_category", "introduced_in", "retired_in")
    list_filter = ("stage", "category", "acting_party", "retryable", "blocks_migration", "introduced_in", "retired_in")
    list_select_related = ("introduced_in", "retired_in")
    search_fields = ("code", "title")
    ordering = ("code",)
    inlines = (ProcedureStepInline,)

    def get_urls(self) -> list[Any]:
        return [
            path("reload/", self.admin_site.admin_view(self.reload_view), name="cases_check_reload"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_reload_catalogue": self.has_change_permission(request)}
        return super().changelist_view(request, extra_context)

    def reload_view(self, request: HttpRequest) -> HttpResponse:
        """Load cases/catalogue/data.py again through catalogue_load (idempotent; hand edits to shipped checks are overwritten)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_change_permission(request) and self.has_add_permission(request)):
            self.message_user(request, "Only DCC staff reload the catalogue.", level=messages.ERROR)
        else:
            from cases.catalogue.data import CHECKS, MEHR_VERSIONS

            counts = catalogue_load(versions=MEHR_VERSIONS, checks=CHECKS)
            self.message_user(
                request,
                "Catalogue reloaded: {versions_created} versions created, {checks_created} checks created, "
                "{checks_updated} checks updated.".format(**counts),
                level=messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:cases_check_changelist"))


@admin.register(MehrVersion)
class MehrVersionAdmin(DccWritesMixin, admin.ModelAdmin):
    list_display = ("version", "published_on", "effective_from")
    ordering = ("-effective_from",)
    search_fields = ("version",)


@admin.register(NonWorkingDay)
class NonWorkingDayAdmin(DccWritesMixin, admin.ModelAdmin):
    list_display = ("date", "description")
    ordering = ("-date",)
    date_hierarchy = "date"
