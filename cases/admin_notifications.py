"""Admin for SLA clocks, notification settings, the outbox (with its dead-letter view) and reports.

Kept apart from cases/admin.py; imported from CasesConfig.ready(). Actions call services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from cases.admin.base import is_dcc_user
from cases.errors import ServiceError
from cases.models import (
    CsvImport,
    DailyReport,
    DeadLetter,
    DeliveryAttempt,
    NotificationPreference,
    NotificationSettings,
    OutboxMessage,
    SlaClock,
    SlaInterval,
)
from cases.models.notifications import OutboxStatus


class DccOnlyMixin:
    """These screens span every organisation (outbox, settings, clocks, reports, imports): DCC only.

    A supplier-side account that somebody gave admin access sees none of them, so it can never read
    another User's data this way (the rule the visibility selectors enforce everywhere else).
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_dcc_user(request) and super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_dcc_user(request) and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return is_dcc_user(request) and super().has_change_permission(request, obj)  # type: ignore[misc]


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SlaIntervalInline(ReadOnlyMixin, admin.TabularInline):
    model = SlaInterval
    extra = 0
    fields = ["started_at", "ended_at", "end_reason"]
    readonly_fields = fields


@admin.register(SlaClock)
class SlaClockAdmin(DccOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["case", "party", "kind", "target_days", "status", "due_at", "warned_at", "breached_at",
                    "escalated_at"]
    list_filter = ["party", "kind", ("breached_at", admin.EmptyFieldListFilter)]
    search_fields = ["case__id"]
    raw_id_fields = ["case"]
    inlines = [SlaIntervalInline]
    list_select_related = ["case"]
    show_full_result_count = False


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(DccOnlyMixin, admin.ModelAdmin):
    list_display = ["organisation", "webhook_url", "email_recipients", "updated_at"]
    search_fields = ["organisation__code", "organisation__name"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(DccOnlyMixin, admin.ModelAdmin):
    list_display = ["organisation", "event", "by_email", "by_webhook"]
    list_filter = ["event", "by_email", "by_webhook"]
    search_fields = ["organisation__code"]


class DeliveryAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ["attempt", "attempted_at", "success", "status_code", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields


@admin.action(description="Resend the selected messages")
def resend(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
    from cases.services.notifications import outbox_resend

    done, refused = 0, []
    for message in queryset:
        try:
            outbox_resend(message=message, actor=request.user)
            done += 1
        except ServiceError as exc:
            refused.append(f"{message.message_id}: {exc.message}")
    if done:
        modeladmin.message_user(request, f"{done} message(s) queued for resending.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


class OutboxAdminBase(DccOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["message_id", "event", "channel", "organisation", "case", "status", "attempts",
                    "next_attempt_at", "created_at", "last_error"]
    list_filter = ["status", "channel", "event"]
    search_fields = ["message_id", "destination", "organisation__code"]
    raw_id_fields = ["case"]
    list_select_related = ["organisation", "case"]
    inlines = [DeliveryAttemptInline]
    actions = [resend]
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Read-only fields, but the change list must allow the resend action.
        return obj is None and request.user.is_staff and is_dcc_user(request)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(OutboxAdminBase):
    pass


@admin.register(DeadLetter)
class DeadLetterAdmin(OutboxAdminBase):
    """Messages that used up their retries: inspect the delivery log, fix the endpoint, resend."""

    list_filter = ["channel", "event"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutboxMessage]:
        return super().get_queryset(request).filter(status=OutboxStatus.DEAD)


@admin.register(DailyReport)
class DailyReportAdmin(DccOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["report_date", "organisation", "generated_at"]
    list_filter = ["report_date"]
    date_hierarchy = "report_date"


@admin.register(CsvImport)
class CsvImportAdmin(DccOnlyMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "file_name", "status", "rows", "cases_created", "occurrences_added",
                    "duplicates", "uploaded_by"]
    list_filter = ["status"]
