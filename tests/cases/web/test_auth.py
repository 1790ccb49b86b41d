"""Sign in (throttled; browser roles only), sign out, password change, and login-required screens."""

from __future__ import annotations

import pytest
from django.test import Client

from cases.domain import Role
from tests.factories import DEFAULT_PASSWORD, make_user

SCREENS = ["/", "/dashboard/", "/cases/MEHR-000001/", "/installations/1/", "/accounts/password/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", SCREENS)
def test_screens_need_sign_in(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_sign_in_and_the_navigation_shows_role_and_organisation(people) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content and b"csrfmiddlewaretoken" in page.content
    response = client.post("/accounts/login/", {"username": "user_agent", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    queue = client.get("/")
    assert b"User agent" in queue.content
    assert b"Supplier A" in queue.content
    assert b"record corrections, request retries" in queue.content  # what the role may do


def test_wrong_password_is_refused_with_a_message(people) -> None:  # type: ignore[no-untyped-def]
    response = Client().post("/accounts/login/", {"username": "dcc_operator", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_login_is_throttled_after_repeated_failures(people, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "LOGIN_MAX_FAILURES_PER_USERNAME": 3}
    client = Client()
    for _ in range(3):
        client.post("/accounts/login/", {"username": "dcc_operator", "password": "wrong"})
    # Even the right password is refused while locked out.
    response = client.post("/accounts/login/", {"username": "dcc_operator", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session
    # Another account is not affected.
    ok = client.post("/accounts/login/", {"username": "dcc_manager", "password": DEFAULT_PASSWORD})
    assert ok.status_code == 302


def test_login_is_throttled_per_address(people, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "LOGIN_MAX_FAILURES_PER_ADDRESS": 4}
    client = Client(REMOTE_ADDR="10.9.8.7")
    for i in range(4):
        client.post("/accounts/login/", {"username": f"guess{i}", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "dcc_operator", "password": DEFAULT_PASSWORD})
    assert b"Too many failed sign-ins" in response.content


def test_a_successful_sign_in_resets_the_username_counter(people, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "LOGIN_MAX_FAILURES_PER_USERNAME": 3}
    client = Client()
    for _ in range(2):
        client.post("/accounts/login/", {"username": "user_agent", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "user_agent", "password": DEFAULT_PASSWORD}).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(2):
        client.post("/accounts/login/", {"username": "user_agent", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "user_agent", "password": DEFAULT_PASSWORD}).status_code == 302


@pytest.mark.parametrize("role", [Role.DCC_INTEGRATION, Role.USER_INTEGRATION])
def test_integration_accounts_cannot_use_the_browser(people, role: str) -> None:  # type: ignore[no-untyped-def]
    response = Client().post("/accounts/login/", {"username": role.lower(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert b"cannot sign in to the web interface" in response.content


def test_an_integration_session_gets_403_on_screens(people) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(people[Role.USER_INTEGRATION])
    response = client.get("/")
    assert response.status_code == 403
    assert "You can't do that" in response.content.decode()


@pytest.mark.django_db
def test_a_person_without_a_role_cannot_sign_in() -> None:
    from tests.factories import UserFactory

    UserFactory(username="nobody")
    response = Client().post("/accounts/login/", {"username": "nobody", "password": DEFAULT_PASSWORD})
    assert b"cannot sign in to the web interface" in response.content


def test_sign_out_needs_post_and_ends_the_session(dcc_client) -> None:  # type: ignore[no-untyped-def]
    assert dcc_client.get("/accounts/logout/").status_code == 405
    response = dcc_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert dcc_client.get("/").status_code == 302


def test_password_change(people) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(people[Role.USER_AGENT])
    page = client.get("/accounts/password/")
    assert page.status_code == 200 and b"Old password" in page.content
    bad = client.post(
        "/accounts/password/", {"old_password": "wrong", "new_password1": "x", "new_password2": "y"}
    )
    assert bad.status_code == 200 and b"has-error" in bad.content
    new = "a-much-longer-passphrase-42"
    response = client.post(
        "/accounts/password/", {"old_password": DEFAULT_PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password/done/"
    people[Role.USER_AGENT].refresh_from_db()
    assert people[Role.USER_AGENT].check_password(new)
    assert client.get("/accounts/password/done/").status_code == 200


def test_csrf_is_enforced_on_forms(people) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "user_agent", "password": DEFAULT_PASSWORD})
    assert response.status_code == 403
    assert b"Your form expired" in response.content


@pytest.mark.django_db
def test_superuser_without_membership_may_sign_in_as_dcc_manager() -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.org", DEFAULT_PASSWORD)
    response = Client().post("/accounts/login/", {"username": "root", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302


def test_make_user_helper_roles(people) -> None:  # type: ignore[no-untyped-def]
    # Guard for the fixtures above: usernames are the lower-cased roles.
    assert make_user is not None and people[Role.DCC_OPERATOR].username == "dcc_operator"
