"""Fixtures for the API tests: token-authenticated clients per role, a second User's data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from cases.domain import Role
from cases.services import token_issue
from tests.factories import CheckFactory, InstallationFactory, case_in_state, make_user


@pytest.fixture(autouse=True)
def _no_throttling(settings):  # type: ignore[no-untyped-def]
    # Throttle counters live in the shared cache; tests that exercise throttling set a rate.
    settings.MEHR = {**settings.MEHR, "API_THROTTLE_RATES": {}}


@pytest.fixture
def api_client() -> Callable[[Any], APIClient]:
    """api_client(user) → an APIClient sending `Authorization: Token <key>` for that account."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        if user is not None:
            _, key = token_issue(user=user, actor=None, name="test")
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def clients(people, api_client):  # type: ignore[no-untyped-def]
    """role → client for the `people` accounts (User roles belong to `supplier`)."""
    return {role: api_client(user) for role, user in people.items() if user is not None}


@pytest.fixture
def other_people(other_supplier):  # type: ignore[no-untyped-def]
    """The three User roles of `other_supplier`."""
    return {
        role: make_user(role, other_supplier, username=f"other_{role.lower()}")
        for role in (Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION)
    }


@pytest.fixture
def case(installation, check):  # type: ignore[no-untyped-def]
    return case_in_state("RAISED", installation=installation, check=check)


@pytest.fixture
def other_case(other_supplier):  # type: ignore[no-untyped-def]
    installation = InstallationFactory(responsible_supplier=other_supplier)
    return case_in_state("AWAITING_USER", installation=installation, check=CheckFactory(code="DV001"))
