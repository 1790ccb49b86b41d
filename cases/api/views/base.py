"""What every API view shares: authentication, permission, throttling, problem details, schema."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from cases.api.authentication import HashedTokenAuthentication
from cases.api.pagination import KeysetPagination
from cases.api.problems import exception_handler
from cases.api.schema import ProblemAutoSchema
from cases.api.throttling import TokenRateThrottle
from cases.errors import NotFound
from cases.models import Case
from cases.roles import role_of
from cases.selectors import case_get_visible


class HasOrganisationRole(permissions.BasePermission):
    """Signed in, active, and holding a role in an organisation (or a superuser)."""

    message = "Your account has no organisation role."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and role_of(request.user))


class ApiMixin:
    authentication_classes = [HashedTokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, HasOrganisationRole]
    throttle_classes = [TokenRateThrottle]
    throttle_scope = "default"
    schema = ProblemAutoSchema()
    pagination_class = KeysetPagination

    def get_exception_handler(self):  # type: ignore[no-untyped-def]
        return exception_handler


class ApiView(ApiMixin, APIView):
    pass


class CaseScopedMixin:
    """Views under /cases/{reference}/: the case must be visible to the caller, else 404."""

    kwargs: dict[str, Any]
    request: Any

    def get_case(self) -> Case:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            raise NotFound("schema")
        if not hasattr(self, "_case"):
            self._case = case_get_visible(user=self.request.user, reference=self.kwargs["reference"])
        return self._case
