"""Fixtures for the browser screens: signed-in clients per role and a few cases in known states."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from cases.domain import CaseState, Role
from tests.factories import CheckFactory, DeviceFactory, InstallationFactory, case_in_state, make_user


@pytest.fixture(autouse=True)
def _private_cache(settings):  # type: ignore[no-untyped-def]
    # Login throttling counters live in the cache. Never flush the shared Redis db (the Celery
    # broker lives there too): give each test a private in-process cache instead.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "mehr-web-tests"}
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client_for(people):  # type: ignore[no-untyped-def]
    """client_for(Role.X) → a Client signed in as that role's person (or any user)."""

    def make(who) -> Client:  # type: ignore[no-untyped-def]
        user = people[who] if isinstance(who, str) else who
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def dcc_client(client_for):  # type: ignore[no-untyped-def]
    return client_for(Role.DCC_OPERATOR)


@pytest.fixture
def agent_client(client_for):  # type: ignore[no-untyped-def]
    return client_for(Role.USER_AGENT)


@pytest.fixture
def case(installation, check):  # type: ignore[no-untyped-def]
    DeviceFactory(installation=installation)
    return case_in_state(CaseState.RAISED, installation=installation, check=check)


@pytest.fixture
def other_case(other_supplier):  # type: ignore[no-untyped-def]
    inst = InstallationFactory(responsible_supplier=other_supplier)
    return case_in_state(CaseState.AWAITING_USER, installation=inst, check=CheckFactory(code="DV001"))


@pytest.fixture
def other_agent(other_supplier):  # type: ignore[no-untyped-def]
    return make_user(Role.USER_AGENT, other_supplier, username="other_agent")
