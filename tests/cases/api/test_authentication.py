"""Token authentication: hashed at rest, issued by command/admin, revoked, and the 401 shapes."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from cases.domain import Role
from cases.errors import NotPermitted, ValidationFailed
from cases.models import ApiToken
from cases.services import token_issue, token_revoke
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_key_is_stored_only_as_its_hash(people):
    token, key = token_issue(user=people[Role.USER_AGENT], name="erp")
    row = ApiToken.objects.get(pk=token.pk)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {row.key_hash, row.prefix, row.name}
    assert key.startswith(row.prefix) and len(key) >= 40
    response = _client(key).get("/api/v1/cases/")
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_missing_wrong_and_revoked_tokens_answer_401_problem(people):
    token, key = token_issue(user=people[Role.USER_AGENT])
    anonymous = APIClient().get("/api/v1/cases/")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
    assert anonymous["WWW-Authenticate"] == "Token"
    assert anonymous.json()["code"] == "not_authenticated"
    assert _client("not-a-key").get("/api/v1/cases/").status_code == 401
    malformed = APIClient()
    malformed.credentials(HTTP_AUTHORIZATION="Token a b")
    assert malformed.get("/api/v1/cases/").status_code == 401
    token_revoke(token=token)
    revoked = _client(key).get("/api/v1/cases/")
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "authentication_failed"


def test_inactive_account_or_no_role_is_refused(people):
    user = people[Role.USER_AGENT]
    _, key = token_issue(user=user)
    user.is_active = False
    user.save()
    assert _client(key).get("/api/v1/cases/").status_code == 401
    nobody = UserFactory()
    with pytest.raises(ValidationFailed):
        token_issue(user=nobody)


def test_only_administrators_issue_tokens(people):
    with pytest.raises(NotPermitted):
        token_issue(user=people[Role.USER_AGENT], actor=people[Role.USER_AGENT])
    admin = UserFactory(is_staff=True, is_superuser=True)
    token, _ = token_issue(user=people[Role.USER_AGENT], actor=admin)
    assert token.created_by == admin


def test_issue_token_command_prints_a_working_key(people):
    out, err = StringIO(), StringIO()
    call_command("issue_token", "dcc_integration", "--name", "S1SP", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert ApiToken.objects.get(user=people[Role.DCC_INTEGRATION]).name == "S1SP"
    assert _client(key).get("/api/v1/checks/").status_code == 200
    with pytest.raises(CommandError):
        call_command("issue_token", "nobody-here", stdout=StringIO(), stderr=StringIO())


def test_session_authentication_for_the_browser(people):
    client = APIClient()
    client.force_login(people[Role.USER_VIEWER])
    assert client.get("/api/v1/cases/").status_code == 200


def test_admin_issues_a_token_once_and_revokes_it(client, people):
    admin_user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    response = client.post(
        "/admin/cases/apitoken/add/", {"user": people[Role.USER_INTEGRATION].pk, "name": "erp"}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user=people[Role.USER_INTEGRATION])
    shown = [str(m) for m in response.context["messages"]]
    key = next(m.split(": ")[1].split(" ")[0] for m in shown if "API key for" in m)
    assert hashlib.sha256(key.encode()).hexdigest() == token.key_hash
    assert _client(key).get("/api/v1/cases/").status_code == 200
    assert key not in client.get(f"/admin/cases/apitoken/{token.pk}/change/").content.decode()
    client.post("/admin/cases/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None and token.created_by == admin_user
    assert _client(key).get("/api/v1/cases/").status_code == 401
    refused = client.post("/admin/cases/apitoken/add/", {"user": UserFactory().pk, "name": "x"})
    assert refused.status_code == 200 and ApiToken.objects.count() == 1
