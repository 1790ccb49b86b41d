"""Issuing and revoking API tokens. The key is returned once and only its hash is stored."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from cases.errors import NotPermitted, ValidationFailed
from cases.models import ApiToken
from cases.models.tokens import TOKEN_PREFIX_LENGTH, token_generate, token_hash
from cases.roles import role_of


def _may_manage_tokens(actor: Any) -> bool:
    # Command-line (actor None) and superusers/staff through the admin manage every account's keys.
    return actor is None or bool(getattr(actor, "is_superuser", False) or getattr(actor, "is_staff", False))


def token_issue(*, user: Any, actor: Any = None, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns (token row, the key). The key cannot be read back later."""
    if not _may_manage_tokens(actor):
        raise NotPermitted("Only administrators issue API tokens.")
    if not user.is_active:
        raise ValidationFailed.field("user", "The account is not active.")
    if not role_of(user):
        raise ValidationFailed.field("user", "The account has no organisation role; give it a membership first.")
    if len(name) > 100:
        raise ValidationFailed.field("name", "A token name is at most 100 characters.")
    key = token_generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_hash=token_hash(key),
            prefix=key[:TOKEN_PREFIX_LENGTH],
            created_by=actor,
        )
    return token, key


def token_revoke(*, token: ApiToken, actor: Any = None) -> ApiToken:
    """Revoke a token; requests with it answer 401 from then on."""
    if not _may_manage_tokens(actor):
        raise NotPermitted("Only administrators revoke API tokens.")
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
    return locked
