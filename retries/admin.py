"""Admin for the retry engine. Every change to retry state goes through a service."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from cases.errors import ServiceError

from .models import (
    CheckRetirement,
    InstallationRetries,
    MigrationAttempt,
    PauseScope,
    RetryPause,
    RetryPolicy,
    SessionAttempt,
    SimulatorBehaviour,
    SimulatorCall,
)
from .services import (
    cases_reevaluate_retired_check,
    check_retire,
    installation_retry_cancel,
    migration_schedule,
    retries_pause,
    retries_resume,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, items, action, label: str) -> None:  # type: ignore[no-untyped-def]
    done = 0
    for item in items:
        try:
            action(item)
            done += 1
        except ServiceError as exc:
            modeladmin.message_user(request, f"{item}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{label}: {done}.", messages.SUCCESS)


@admin.register(RetryPolicy)
class RetryPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name", "mehr_version", "cohort", "installation_type", "is_active", "auto_select", "revision",
        "session_attempts_per_window", "session_timeout_seconds", "attempt_interval_seconds",
        "migration_attempts_before_exclusion",
    )
    list_filter = ("is_active", "cohort", "installation_type", "mehr_version")
    readonly_fields = ("revision", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "mehr_version", "cohort", "installation_type", "is_active", "auto_select", "revision")}),
        ("Session attempts", {"fields": (
            "wake_sms_per_attempt", "session_timeout_seconds", "session_attempts_per_window", "attempt_interval_seconds",
            "backoff_enabled", "backoff_multiplier", "jitter_enabled", "max_interval_seconds",
        )}),
        ("Migration windows", {"fields": (
            "window_opens_at", "window_length_minutes", "reschedule_delay_working_days",
            "migration_attempts_before_exclusion", "sms_budget_per_installation",
        )}),
        ("Dormant installations", {"fields": ("firmware_upgrade_first", "migration_after_firmware_working_days")}),
        (None, {"fields": ("notes", "created_at", "updated_at")}),
    )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # attempts are stamped with their policy: deactivate instead


class SessionAttemptInline(admin.TabularInline):
    model = SessionAttempt
    extra = 0
    can_delete = False
    fields = ("number", "due_at", "state", "started_at", "finished_at", "result_code", "sms_sent", "worker", "claims")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(MigrationAttempt)
class MigrationAttemptAdmin(ReadOnlyAdmin):
    list_display = ("pk", "installation", "kind", "number", "window_start", "window_end", "outcome", "failure_check", "stage_reached")
    list_filter = ("outcome", "kind")
    search_fields = ("installation__mpan", "installation__mprn")
    raw_id_fields = ("installation",)
    inlines = [SessionAttemptInline]
    actions = ["cancel_pending"]

    @admin.action(description="Cancel pending retries of these installations")
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(self, request, {a.installation for a in queryset}, lambda i: installation_retry_cancel(
            installation=i, actor=request.user, reason="Cancelled in the admin."), "Cancelled")


@admin.register(SessionAttempt)
class SessionAttemptAdmin(ReadOnlyAdmin):
    list_display = ("pk", "installation_id", "migration_attempt_id", "number", "due_at", "state", "started_at", "result_code", "worker")
    list_filter = ("state", "cohort")
    show_full_result_count = False  # tens of millions of rows: no COUNT(*) per page


@admin.register(RetryPause)
class RetryPauseAdmin(admin.ModelAdmin):
    list_display = ("__str__", "scope", "installation", "cohort", "reason", "is_active", "paused_by", "paused_at", "resumed_at")
    list_filter = ("is_active", "scope")
    raw_id_fields = ("installation",)
    fields = ("scope", "installation", "cohort", "reason")
    actions = ["resume"]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return obj is None

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def save_model(self, request: HttpRequest, obj: RetryPause, form, change: bool) -> None:  # type: ignore[no-untyped-def]
        try:
            created = retries_pause(
                scope=obj.scope, installation=obj.installation, cohort=obj.cohort, actor=request.user, reason=obj.reason
            )
            obj.pk = created.pk
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description="Resume retries (lift these pauses)")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(self, request, queryset.filter(is_active=True), lambda p: retries_resume(
            scope=p.scope, installation=p.installation, cohort=p.cohort, actor=request.user, reason="Resumed in the admin."
        ), "Resumed")


@admin.register(InstallationRetries)
class InstallationRetriesAdmin(ReadOnlyAdmin):
    list_display = ("pk", "mpan", "mprn", "cohort", "installation_type", "migration_status", "migration_attempt_count")
    list_filter = ("migration_status", "cohort", "installation_type")
    search_fields = ("mpan", "mprn")
    actions = ["schedule_now", "cancel_pending", "pause", "resume"]

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_active and request.user.is_staff

    @admin.action(description="Schedule a migration attempt now (ad hoc)")
    def schedule_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(self, request, queryset, lambda i: migration_schedule(
            installation=i, actor=request.user, reason="Ad-hoc retry from the admin."), "Scheduled")

    @admin.action(description="Cancel pending retries")
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(self, request, queryset, lambda i: installation_retry_cancel(
            installation=i, actor=request.user, reason="Cancelled in the admin."), "Cancelled")

    @admin.action(description="Pause retries")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(self, request, queryset, lambda i: retries_pause(
            scope=PauseScope.INSTALLATION, installation=i, actor=request.user, reason="Paused in the admin."), "Paused")

    @admin.action(description="Resume retries")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(self, request, queryset, lambda i: retries_resume(
            scope=PauseScope.INSTALLATION, installation=i, actor=request.user, reason="Resumed in the admin."), "Resumed")


@admin.register(CheckRetirement)
class CheckRetirementAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "introduced_in", "retired_in")
    list_filter = ("retired_in", "stage")
    search_fields = ("code", "title")
    fields = ("code", "title", "introduced_in", "retired_in")
    readonly_fields = ("code", "title", "introduced_in")
    actions = ["reevaluate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def save_model(self, request: HttpRequest, obj: CheckRetirement, form, change: bool) -> None:  # type: ignore[no-untyped-def]
        if "retired_in" not in form.changed_data or obj.retired_in is None:
            self.message_user(request, "Only retiring in a MEHR version is done here.", messages.WARNING)
            return
        try:
            counts = check_retire(check=obj, version=obj.retired_in, actor=request.user)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"{obj.code} retired; open cases re-evaluated: {counts}.", messages.SUCCESS)

    @admin.action(description="Re-evaluate open cases blocked only by these (retired) checks")
    def reevaluate(self, request: HttpRequest, queryset: QuerySet) -> None:
        _each(self, request, queryset, lambda c: cases_reevaluate_retired_check(check=c, actor=request.user), "Re-evaluated")


@admin.register(SimulatorBehaviour)
class SimulatorBehaviourAdmin(admin.ModelAdmin):
    list_display = ("__str__", "mode", "fail_times", "refuse_code", "after_connect_check", "latency_seconds")
    raw_id_fields = ("installation",)


@admin.register(SimulatorCall)
class SimulatorCallAdmin(ReadOnlyAdmin):
    list_display = ("called_at", "idempotency_key", "installation_id", "status", "code", "worker_pid")
    show_full_result_count = False
