"""Friendly error pages."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from cases.web.errors import server_error


@pytest.mark.django_db
def test_404_page_is_friendly_and_styled() -> None:
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert b"Not found" in response.content and b"app.css" in response.content
    assert b"Back to the queue" in response.content


def test_500_page_renders_without_a_request_context() -> None:
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content


def test_403_page_for_a_refused_action(client_for, case) -> None:  # type: ignore[no-untyped-def]
    from cases.domain import Role

    response = client_for(Role.USER_AGENT).post(f"/cases/{case.reference}/transitions/escalate/", {"incident_reference": "I"})
    assert response.status_code == 403
    assert b"may not escalate" in response.content
