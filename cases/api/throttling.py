"""Throttling per token (per account for session use), with rates from settings.MEHR["API_THROTTLE_RATES"].

Rates are read on every request (not frozen at import like DRF's defaults) so that configuration
and tests can change them. Counters live in the shared cache (Redis in deployment).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """Limits requests per API token; `scope` picks the rate (views set `throttle_scope`)."""

    cache_format = "api-throttle:%(scope)s:%(ident)s"
    default_scope = "default"

    def __init__(self) -> None:
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = getattr(view, "throttle_scope", None) or self.default_scope
        rates = settings.MEHR.get("API_THROTTLE_RATES", {})
        self.rate = rates.get(self.scope, rates.get(self.default_scope))
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        token = getattr(request, "auth", None)
        if token is not None and getattr(token, "pk", None) is not None:
            ident = f"token-{token.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
