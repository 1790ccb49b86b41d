"""Installations (with devices, cases and retry history) and the check catalogue."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.filters import CheckFilter, InstallationFilter
from cases.api.serializers.installations import (
    CheckSerializer,
    InstallationDetailSerializer,
    InstallationSerializer,
)
from cases.api.views.base import ApiMixin
from cases.errors import NotFound
from cases.models import Check, Device, ProcedureStep
from cases.selectors import cases_visible_to, installations_visible_to
from retries.api.views import installation_retry_history


@extend_schema(tags=["installations"])
class InstallationListView(ApiMixin, generics.ListAPIView):
    """Installations visible to you (a User sees only those it is the responsible supplier of)."""

    serializer_class = InstallationSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = InstallationFilter
    ordering_fields = ("id", "updated_at")
    default_ordering = "id"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return installations_visible_to(self.request.user).select_related("responsible_supplier", "smso")


@extend_schema(tags=["installations"])
class InstallationDetailView(ApiMixin, generics.GenericAPIView):
    """One installation with its devices, its cases, and its migration and session attempts."""

    serializer_class = InstallationDetailSerializer

    def get(self, request: Request, pk: int) -> Response:
        installation = (
            installations_visible_to(request.user)
            .select_related("responsible_supplier", "smso")
            .prefetch_related(Prefetch("devices", queryset=Device.objects.order_by("device_type", "eui64")))
            .filter(pk=pk)
            .first()
        )
        if installation is None:
            raise NotFound(f"No installation {pk}.")
        cases = list(
            cases_visible_to(request.user)
            .filter(installation_id=installation.pk)
            .select_related("check_type")
            .only("pk", "state", "updated_at", "check_type__code")
            .order_by("-updated_at", "-id")[:50]
        )
        context: dict[str, Any] = {
            "cases": cases,
            "request": request,
            **installation_retry_history(installation, request.user),
        }
        return Response(InstallationDetailSerializer(context=context).to_representation(installation))


def _checks():  # type: ignore[no-untyped-def]
    return Check.objects.select_related("introduced_in", "retired_in").prefetch_related(
        Prefetch("steps", queryset=ProcedureStep.objects.order_by("order"))
    )


@extend_schema(tags=["catalogue"])
class CheckListView(ApiMixin, generics.ListAPIView):
    """The MEHR check catalogue with each check's procedure."""

    serializer_class = CheckSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CheckFilter
    ordering_fields = ("id",)
    default_ordering = "id"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return _checks()


@extend_schema(tags=["catalogue"])
class CheckDetailView(ApiMixin, generics.GenericAPIView):
    """One check with its procedure."""

    serializer_class = CheckSerializer

    def get(self, request: Request, code: str) -> Response:
        check = _checks().filter(code=code.upper()[:16]).first()
        if check is None:
            raise NotFound(f"No check {code}.")
        return Response(CheckSerializer().to_representation(check))
