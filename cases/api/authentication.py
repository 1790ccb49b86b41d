"""`Authorization: Token <key>`: keys are looked up by their SHA-256, never stored in clear."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from cases.models import ApiToken
from cases.models.tokens import token_hash
from cases.roles import role_of


class HashedTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Token <key>' with one key.")
        try:
            key = header[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from exc
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        # One query: token, account, membership and organisation (role_of/organisation_of read them).
        token = (
            ApiToken.objects.select_related("user", "user__membership", "user__membership__organisation")
            .filter(key_hash=token_hash(key), revoked_at__isnull=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        user = token.user
        if not user.is_active or not role_of(user):
            raise exceptions.AuthenticationFailed("The account is inactive or has no organisation role.")
        self._touch(token)
        return user, token

    @staticmethod
    def _touch(token: ApiToken) -> None:
        # Record use at most once per interval so that reads do not each cost a write.
        now = timezone.now()
        interval = timedelta(seconds=settings.MEHR.get("API_TOKEN_TOUCH_SECONDS", 300))
        if token.last_used_at is None or now - token.last_used_at > interval:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class HashedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "cases.api.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Token-based authentication: `Authorization: Token <key>`. Keys are issued by an "
            "administrator (admin action or `manage.py issue_token USERNAME`).",
        }
