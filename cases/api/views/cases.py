"""Cases: the list (filters, ordering, cursor pagination) and the detail."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api.filters import CaseFilter
from cases.api.serializers.cases import CaseDetailSerializer, CaseSerializer
from cases.api.views.base import ApiMixin, CaseScopedMixin
from cases.models import Case
from cases.selectors import cases_visible_to
from cases.services import case_transition_options

CASE_LIST_FIELDS = (
    "id",
    "state",
    "stage",
    "category",
    "priority",
    "owner_party",
    "occurrence_count",
    "first_occurred_at",
    "last_occurred_at",
    "raised_at",
    "updated_at",
    "finished_at",
    "closed_at",
    "incident_reference",
    "excluded_category",
    "version",
    "installation__id",
    "installation__mpan",
    "installation__mprn",
    "installation__cohort",
    "installation__installation_type",
    "installation__migration_status",
    "check_type__id",
    "check_type__code",
    "check_type__title",
    "supplier__id",
    "supplier__code",
    "assignee__id",
    "assignee__username",
)


def etag(case: Case) -> str:
    return f'"{case.version}"'


@extend_schema(tags=["cases"])
class CaseListView(ApiMixin, generics.ListAPIView):
    """Cases visible to you (a User sees only its own organisation's), newest change first."""

    serializer_class = CaseSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CaseFilter
    ordering_fields = ("updated_at", "raised_at", "last_occurred_at", "priority", "id")
    default_ordering = "-updated_at"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        # One query per page: the related rows come by join, only the columns the list shows.
        return (
            cases_visible_to(self.request.user)
            .select_related("installation", "check_type", "supplier", "assignee")
            .only(*CASE_LIST_FIELDS)
        )


@extend_schema(tags=["cases"], responses={200: OpenApiResponse(CaseDetailSerializer, description="The case; ETag is its version.")})
class CaseDetailView(ApiMixin, CaseScopedMixin, generics.GenericAPIView):
    """One case, with the transitions you may fire now, its checklist and its installation."""

    serializer_class = CaseDetailSerializer

    def get(self, request: Request, reference: str) -> Response:
        case = self.get_case()
        return Response(case_detail_data(case, request.user), headers={"ETag": etag(case)})


def case_detail_data(case: Case, user: Any) -> dict[str, Any]:
    checklist = list(case.checklist.select_related("done_by").order_by("order"))
    options = case_transition_options(case=case, user=user)
    return CaseDetailSerializer(context={"checklist": checklist, "transitions": options}).to_representation(case)
