"""`manage.py issue_token USERNAME [--name NAME]`: print a new API key for an account (shown once)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cases.errors import ServiceError
from cases.services import token_issue


class Command(BaseCommand):
    help = "Issue an API token for an account and print the key (it is stored hashed and cannot be shown again)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the key is for, e.g. 'S1SP ingestion'.")

    def handle(self, *args, username: str, name: str, **options) -> None:  # type: ignore[no-untyped-def]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account {username!r}.")
        try:
            token, key = token_issue(user=user, actor=None, name=name)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"Token {token.prefix}… issued for {username}; it is shown once:")
        self.stdout.write(key)
