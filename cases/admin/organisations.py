"""Admin of organisations and people (memberships inline on the User admin)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from cases.models import Membership, Organisation
from cases.selectors import memberships_visible_to, organisations_visible_to, users_visible_to

from .base import VisibilityScopedAdminMixin, is_dcc_staff

User = get_user_model()


class DccWritesMixin:
    """Reference data: everyone with admin access may look; only DCC staff change it."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_dcc_staff(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_dcc_staff(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_dcc_staff(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]


@admin.register(Organisation)
class OrganisationAdmin(VisibilityScopedAdminMixin, DccWritesMixin, admin.ModelAdmin):
    visibility_selector = staticmethod(organisations_visible_to)
    list_display = ("code", "name", "kind", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
    ordering = ("name",)


class MembershipInline(admin.StackedInline):
    model = Membership
    can_delete = False
    autocomplete_fields = ("organisation",)
    verbose_name_plural = "Organisation and role"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return memberships_visible_to(request.user).select_related("organisation")


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(VisibilityScopedAdminMixin, DjangoUserAdmin):
    """Django's user admin plus the person's organisation and role; scoped to what the viewer may see."""

    visibility_selector = staticmethod(users_visible_to)
    inlines = (MembershipInline,)
    list_display = ("username", "email", "first_name", "last_name", "organisation", "role", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "membership__role", "membership__organisation__kind")
    list_select_related = ("membership__organisation",)

    @admin.display(description="Organisation", ordering="membership__organisation__code")
    def organisation(self, obj: Any) -> str:
        membership = getattr(obj, "membership", None)
        return membership.organisation.code if membership else "—"

    @admin.display(description="Role", ordering="membership__role")
    def role(self, obj: Any) -> str:
        membership = getattr(obj, "membership", None)
        return membership.get_role_display() if membership else ("superuser" if obj.is_superuser else "—")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("membership__organisation")
