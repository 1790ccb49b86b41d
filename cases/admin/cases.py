"""Admin of cases and their audit trail.

Every write goes through a service: lifecycle buttons (django-fsm-2's admin integration) call
``case_transition`` with the person, the version they saw and the transition's fields; the assignee
field calls ``case_assign``; checklist ticks call ``case_tick_checklist``; bulk actions loop over
services. Every queryset comes from a visibility selector.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django_fsm.admin import FSMAdminMixin, FSMObjectTransition, FSMTransitionContext

from cases.counting import estimated_count
from cases.domain import DCC_STAFF_ROLES, OPEN_STATES, OrganisationKind, Role
from cases.errors import ServiceError
from cases.lifecycle import TRANSITIONS
from cases.models import Attachment, Case, CaseEvent, CaseOccurrence, ChecklistItem
from cases.roles import role_of
from cases.selectors import (
    attachments_visible_to,
    case_events_visible_to,
    cases_visible_to,
    checklist_items_visible_to,
    occurrences_visible_to,
    organisations_visible_to,
)
from cases.services import case_assign, case_tick_checklist, case_transition, case_transition_options
from cases.validators import normalise_eui64

from .base import ReadOnlyAdminMixin, ReadOnlyInlineMixin, VisibilityScopedAdminMixin, report_service_error
from .forms import TRANSITION_FORMS, CaseAdminForm

ASSIGNING_ROLES = frozenset(DCC_STAFF_ROLES | {Role.USER_AGENT, Role.DCC_INTEGRATION})


# --- search: exact, indexed lookups only (a LIKE over a million rows is not a search) ----------
def case_search_q(term: str) -> Q | None:
    """Reference (MEHR-000123 or 123), MPAN, MPRN, device ID (EUI-64), check code or incident reference.

    Each alternative is an indexed lookup. Matches on other tables (installations, devices, checks)
    are resolved first into a short list of ids, so the case query is an OR of index lookups that
    PostgreSQL combines (a join or an IN subquery under an OR makes it scan a million cases).
    """
    from cases.models import Check, Device, Installation

    term = term.strip()
    if not term:
        return None
    if term.upper().startswith("MEHR-"):
        pk = Case.pk_from_reference(term)
        return Q(pk=pk) if pk is not None else Q(pk__in=[])
    q = Q(pk__in=[])
    if term.isdigit():
        if len(term) <= 18:
            q |= Q(pk=int(term))
        mpxn = Q(mpan=term) if len(term) == 13 else Q()
        if 6 <= len(term) <= 10:
            mpxn = mpxn | Q(mprn=term) if mpxn else Q(mprn=term)
        if mpxn:
            q |= Q(installation_id__in=_ids(Installation.objects.filter(mpxn).values_list("pk", flat=True)))
    try:
        eui64 = normalise_eui64(term)
    except Exception:
        eui64 = None
    if eui64:
        q |= Q(installation_id__in=_ids(Device.objects.filter(eui64=eui64).values_list("installation_id", flat=True)))
    if not term.isdigit():
        if len(term) <= 16:
            q |= Q(check_type_id__in=_ids(Check.objects.filter(code=term.upper()).values_list("pk", flat=True)))
        q |= Q(incident_reference=term)
    return q


def _ids(values: QuerySet) -> list[int]:
    return list(values[:1000])


class EstimatedCountPaginator(Paginator):
    """On PostgreSQL a changelist whose match is large (unfiltered, or a User-side account's whole
    organisation) shows the planner's estimate instead of an exact COUNT(*); small ones count exactly."""

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        qs = self.object_list
        if isinstance(qs, QuerySet):
            return estimated_count(qs)[0]
        return super().count


# --- filters -----------------------------------------------------------------------------------
class SupplierFilter(admin.SimpleListFilter):
    title = "supplier (User)"
    parameter_name = "supplier"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        orgs = organisations_visible_to(request.user).filter(kind=OrganisationKind.USER).order_by("name")
        return [(str(o.pk), o.name) for o in orgs]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(supplier_id=value) if value and value.isdigit() else queryset


class OpenFilter(admin.SimpleListFilter):
    title = "open or finished"
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Open"), ("no", "Finished or closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(state__in=OPEN_STATES)
        if self.value() == "no":
            return queryset.exclude(state__in=OPEN_STATES)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("me", "Assigned to me"), ("none", "Unassigned")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "me":
            return queryset.filter(assignee_id=request.user.pk)
        if self.value() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset


class ActorRoleFilter(admin.SimpleListFilter):
    title = "actor role"
    parameter_name = "actor_role"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Role.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(actor_role=self.value()) if self.value() else queryset


# --- inlines -------------------------------------------------------------------------------------
class CaseEventInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = CaseEvent
    verbose_name_plural = "Audit trail (append-only)"
    fields = ("created_at", "kind", "transition", "from_state", "to_state", "actor", "actor_organisation",
              "actor_role", "visibility", "note_kind", "body")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # DCC-internal events never reach a User-side account, here as anywhere.
        return case_events_visible_to(request.user).select_related("actor", "actor_organisation")


class CaseOccurrenceInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = CaseOccurrence
    fields = ("occurred_at", "source", "source_event_id", "recorded_at", "detail")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return occurrences_visible_to(request.user)


class AttachmentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Attachment
    fields = ("uploaded_at", "original_name", "content_type", "size", "sha256", "uploaded_by", "visibility")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return attachments_visible_to(request.user).select_related("uploaded_by")


class ChecklistInline(admin.TabularInline):
    """Only ``done`` is editable; the admin turns a change into ``case_tick_checklist``."""

    model = ChecklistItem
    fields = ("order", "party", "kind", "text", "done", "done_by", "done_at")
    readonly_fields = ("order", "party", "kind", "text", "done_by", "done_at")
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return checklist_items_visible_to(request.user).select_related("done_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- the case admin ------------------------------------------------------------------------------
@admin.register(Case)
class CaseAdmin(VisibilityScopedAdminMixin, FSMAdminMixin, admin.ModelAdmin):
    visibility_selector = staticmethod(cases_visible_to)
    form = CaseAdminForm
    fsm_fields = ["state"]
    fsm_forms = TRANSITION_FORMS  # type: ignore[assignment]
    change_form_template = "admin/cases/case/fsm_change_form.html"
    fsm_transition_form_template = "admin/cases/case/transition_form.html"

    list_display = (
        "reference", "state", "check_code", "stage", "category", "installation_mpxn", "supplier_name",
        "cohort", "owner_party", "assignee", "priority", "occurrence_count", "updated_at",
    )
    list_display_links = ("reference",)
    list_filter = (
        OpenFilter, "state", "stage", "category", "cohort", "installation_type",
        "owner_party", "priority", SupplierFilter, AssigneeFilter, "check_type",
    )
    list_select_related = ("check_type", "supplier", "installation", "assignee")
    list_per_page = 50
    ordering = ("-updated_at", "-id")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    search_fields = ("installation__mpan",)  # shows the box; get_search_results does the real work
    search_help_text = "Exact: reference (MEHR-000123), MPAN, MPRN, device ID (EUI-64), check code or incident reference."
    autocomplete_fields = ("assignee",)
    actions = ("assign_to_me", "close_finished")
    inlines = (ChecklistInline, CaseEventInline, CaseOccurrenceInline, AttachmentInline)
    fieldsets = (
        (None, {"fields": ("expected_version", "reference", "state", "installation_link", "supplier", "check_type",
                           "stage", "category")}),
        ("Handling", {"fields": ("owner_party", "assignee", "priority", "incident_reference", "excluded_category",
                                 "state_before_escalation", "resolution")}),
        ("Times", {"fields": ("occurrence_count", "first_occurred_at", "last_occurred_at", "raised_at",
                              "updated_at", "finished_at", "closed_at", "version")}),
    )
    _ALWAYS_READ_ONLY = (
        "reference", "state", "installation_link", "supplier", "check_type", "stage", "category", "owner_party",
        "priority", "incident_reference", "excluded_category", "state_before_escalation", "resolution",
        "occurrence_count", "first_occurred_at", "last_occurred_at", "raised_at", "updated_at", "finished_at",
        "closed_at", "version",
    )

    # --- list columns ------------------------------------------------------------------------------
    @admin.display(description="Reference", ordering="id")
    def reference(self, obj: Case) -> str:
        return obj.reference

    @admin.display(description="Check", ordering="check_type__code")
    def check_code(self, obj: Case) -> str:
        return obj.check_type.code

    @admin.display(description="MPxN")
    def installation_mpxn(self, obj: Case) -> str:
        return obj.installation.mpxn

    @admin.display(description="Supplier", ordering="supplier__name")
    def supplier_name(self, obj: Case) -> str:
        return obj.supplier.name

    @admin.display(description="Installation")
    def installation_link(self, obj: Case) -> str:
        url = reverse("admin:cases_installation_change", args=[obj.installation_id])
        return format_html('<a href="{}">{}</a>', url, obj.installation)

    # --- permissions: cases are raised by case_raise and never deleted -------------------------
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        read_only = list(self._ALWAYS_READ_ONLY)
        if obj is None or not obj.is_open or role_of(request.user) not in ASSIGNING_ROLES:
            read_only.append("assignee")
        return tuple(read_only)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        q = case_search_q(search_term)
        return (queryset if q is None else queryset.filter(q)), False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return super().get_changeform_initial_data(request)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields["expected_version"].initial = obj.version
        return form

    # --- writes through services ---------------------------------------------------------------
    def save_model(self, request: HttpRequest, obj: Case, form: Any, change: bool) -> None:
        request._mehr_version = form.cleaned_data.get("expected_version") or obj.version  # type: ignore[attr-defined]
        if "assignee" not in form.changed_data:
            return
        try:
            case = case_assign(
                case=obj.pk,
                assignee=form.cleaned_data.get("assignee"),
                actor=request.user,
                expected_version=request._mehr_version,  # type: ignore[attr-defined]
            )
        except ServiceError as exc:
            report_service_error(self, request, exc, prefix="Not assigned: ")
            request._mehr_admin_failed = True  # type: ignore[attr-defined]
        else:
            request._mehr_version = case.version  # type: ignore[attr-defined]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ChecklistItem:
            return  # every other inline is read-only
        for item_form in formset.forms:
            if "done" not in item_form.changed_data:
                continue
            item = item_form.instance
            try:
                case_tick_checklist(case=item.case_id, order=item.order, actor=request.user,
                                    done=item_form.cleaned_data["done"])
            except ServiceError as exc:
                report_service_error(self, request, exc, prefix=f"Step {item.order} not changed: ")
                request._mehr_admin_failed = True  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:
            # Nothing is saved by the formsets themselves (the services wrote what changed); the
            # admin's change message still reads these.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            self.save_formset(request, form, formset, change=change)

    def response_change(self, request: HttpRequest, obj: Case) -> HttpResponse:
        change_url = add_preserved_filters(
            {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}, request.path
        )
        name = request.POST.get(self.fsm_post_param)
        if getattr(request, "_mehr_admin_failed", False):
            return HttpResponseRedirect(change_url)
        if not name:
            return admin.ModelAdmin.response_change(self, request, obj)
        version = getattr(request, "_mehr_version", obj.version)
        if name in TRANSITION_FORMS:
            url = reverse("admin:cases_case_transition", kwargs={"object_id": obj.pk, "transition_name": name})
            return HttpResponseRedirect(f"{url}?version={version}")
        self.fire_transition(request, obj, name, expected_version=version)
        return HttpResponseRedirect(change_url)

    def fire_transition(self, request: HttpRequest, obj: Case, name: str, *, expected_version: int | None,
                        **kwargs: Any) -> Case | None:
        spec = TRANSITIONS.get(name)
        if spec is None:
            self.message_user(request, f"Unknown transition {name!r}.", level=messages.ERROR)
            return None
        try:
            case = case_transition(case=obj.pk, transition=name, actor=request.user,
                                   expected_version=expected_version, **kwargs)
        except ServiceError as exc:
            report_service_error(self, request, exc, prefix=f"{spec.label}: ")
            return None
        self.message_user(request, f"{case.reference}: {spec.label} done; the case is now {case.get_state_display().lower()}.",
                          level=messages.SUCCESS)
        return case

    def fsm_transition_view(self, request: HttpRequest, object_id: str, transition_name: str,
                            **kwargs: Any) -> HttpResponse:
        obj = self.get_object(request, object_id)  # through the visibility selector: others' cases 404
        if obj is None:
            raise Http404("No such case.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        spec = TRANSITIONS.get(transition_name)
        form_class = TRANSITION_FORMS.get(transition_name)
        if spec is None or form_class is None:
            raise Http404("No such transition form.")
        change_url = reverse("admin:cases_case_change", args=[obj.pk])
        if role_of(request.user) not in spec.roles:
            self.message_user(request, f"Your role may not {spec.label.lower()} a case.", level=messages.ERROR)
            return redirect(change_url)
        initial = {}
        if request.GET.get("version", "").isdigit():
            initial["expected_version"] = int(request.GET["version"])
        form = form_class(request.POST if request.method == "POST" else None, case=obj, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                case_transition(case=obj.pk, transition=transition_name, actor=request.user,
                                expected_version=form.cleaned_data.get("expected_version"), **form.service_kwargs())
            except ServiceError as exc:
                for field, errors in exc.errors.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.errors:
                    form.add_error(None, exc.message)
                report_service_error(self, request, exc, prefix=f"{spec.label}: ")
            else:
                obj = Case.objects.get(pk=obj.pk)
                self.message_user(request, f"{obj.reference}: {spec.label} done; the case is now "
                                  f"{obj.get_state_display().lower()}.", level=messages.SUCCESS)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": obj,
            "title": f"{spec.label}: {obj.reference}",
            "transition": FSMTransitionContext(name=transition_name, label=spec.label, help_text=spec.help),
            "transition_form": form,
        }
        return TemplateResponse(request, self.fsm_transition_form_template, context)

    def _get_fsm_extra_context(self, *, request: HttpRequest, obj: Any) -> list[FSMObjectTransition]:  # type: ignore[override]
        if obj is None or not self.has_change_permission(request, obj):
            return []
        options = case_transition_options(case=obj, user=request.user)
        available = [
            FSMTransitionContext(name=o.spec.name, label=o.spec.label, help_text=o.spec.help) for o in options if o.enabled
        ]
        if not available:
            return []
        return [FSMObjectTransition(fsm_field="state", block_label="Lifecycle", available_transitions=available)]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["disabled_transitions"] = [
                (o.spec.label, " ".join(o.reasons))
                for o in case_transition_options(case=obj, user=request.user)
                if not o.enabled
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    # --- bulk actions (services, one case at a time) ---------------------------------------------
    def _bulk(self, request: HttpRequest, queryset: QuerySet, verb: str, call: Any) -> None:
        done, failed = 0, []
        for case in queryset.select_related(None).only("pk", "version")[:500]:
            try:
                call(case)
                done += 1
            except ServiceError as exc:
                failed.append(f"{case.reference}: {exc.message}")
        if done:
            self.message_user(request, f"{verb}: {done} case(s).", level=messages.SUCCESS)
        if failed:
            shown = "; ".join(failed[:10]) + (f" … and {len(failed) - 10} more" if len(failed) > 10 else "")
            self.message_user(request, f"Not {verb.lower()}: {shown}", level=messages.ERROR)

    @admin.action(description="Assign selected open cases to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._bulk(request, queryset, "Assigned",
                   lambda c: case_assign(case=c.pk, assignee=request.user, actor=request.user))

    @admin.action(description="Close selected finished cases", permissions=["change"])
    def close_finished(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._bulk(request, queryset, "Closed",
                   lambda c: case_transition(case=c.pk, transition="close", actor=request.user,
                                             expected_version=c.version))


# --- the audit trail and the rest, read-only -----------------------------------------------------
@admin.register(CaseEvent)
class CaseEventAdmin(VisibilityScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    visibility_selector = staticmethod(case_events_visible_to)
    list_display = ("created_at", "case_reference", "kind", "transition", "from_state", "to_state", "actor",
                    "actor_organisation", "actor_role", "visibility")
    # actor_role has no choices on the model: a plain filter would run SELECT DISTINCT over every event.
    list_filter = ("kind", "visibility", ActorRoleFilter, "note_kind")
    list_select_related = ("actor", "actor_organisation")
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    search_fields = ("case__id",)
    search_help_text = "Case reference (MEHR-000123)."
    readonly_fields = ("case", "kind", "actor", "actor_organisation", "actor_role", "created_at", "from_state",
                       "to_state", "transition", "note_kind", "visibility", "body", "data")

    @admin.display(description="Case", ordering="case_id")
    def case_reference(self, obj: CaseEvent) -> str:
        url = reverse("admin:cases_case_change", args=[obj.case_id])
        return format_html('<a href="{}">{}</a>', url, f"MEHR-{obj.case_id:06d}")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        if not search_term.strip():
            return queryset, False
        pk = Case.pk_from_reference(search_term)
        return (queryset.filter(case_id=pk) if pk is not None else queryset.none()), False


@admin.register(CaseOccurrence)
class CaseOccurrenceAdmin(VisibilityScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    visibility_selector = staticmethod(occurrences_visible_to)
    list_display = ("occurred_at", "case", "source", "source_event_id", "recorded_at")
    list_select_related = ("case",)
    list_filter = ("source",)
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    search_fields = ("source_event_id",)
    search_help_text = "Exact source event id, or a case reference."

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        q = Q(source_event_id=term)
        if term.upper().startswith("MEHR-"):
            q = Q(case_id=Case.pk_from_reference(term))
        return queryset.filter(q), False


@admin.register(Attachment)
class AttachmentAdmin(VisibilityScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    visibility_selector = staticmethod(attachments_visible_to)
    list_display = ("uploaded_at", "case", "original_name", "content_type", "size", "uploaded_by", "visibility")
    list_filter = ("visibility", "content_type")
    list_select_related = ("uploaded_by", "case")
    ordering = ("-id",)
    show_full_result_count = False
