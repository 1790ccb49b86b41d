"""One error shape (RFC 9457) for every failure, and throttling per token."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from cases.domain import Role
from cases.models import ApiToken

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def _is_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    return body


def test_malformed_json_is_a_400_problem(clients):
    response = clients[Role.DCC_INTEGRATION].generic(
        "POST", "/api/v1/exception-events/", b'{"events": [', content_type="application/json"
    )
    assert _is_problem(response, 400)["code"] == "parse_error"


def test_unsupported_media_type_method_and_unknown_url(clients, case):
    client = clients[Role.USER_AGENT]
    response = client.generic("POST", f"/api/v1/cases/{case.reference}/notes/", b"<x/>", content_type="application/xml")
    assert _is_problem(response, 415)["code"] == "unsupported_media_type"
    assert _is_problem(client.delete(f"/api/v1/cases/{case.reference}/"), 405)["code"] == "method_not_allowed"
    assert _is_problem(client.get("/api/v1/no-such-thing/"), 404)["code"] == "not_found"
    assert _is_problem(client.get("/api/nothing"), 404)["instance"] == "/api/nothing"


def test_validation_errors_list_fields(clients, case):
    response = clients[Role.USER_AGENT].post(
        f"/api/v1/cases/{case.reference}/notes/", {"kind": "GOSSIP", "body": ""}, format="json"
    )
    body = _is_problem(response, 400)
    assert set(body["errors"]) == {"kind", "body"}


def test_bad_filters_and_cursors_are_400(clients):
    client = clients[Role.DCC_OPERATOR]
    assert _is_problem(client.get("/api/v1/cases/?state=NOPE"), 400)["errors"]["state"]
    assert _is_problem(client.get("/api/v1/cases/?updated_since=yesterday"), 400)["errors"]["updated_since"]
    assert "cursor" in _is_problem(client.get("/api/v1/cases/?cursor=%%%"), 404)["detail"]  # as DRF's cursors
    assert _is_problem(client.get("/api/v1/cases/?page_size=100000"), 400)["errors"]["page_size"]
    assert _is_problem(client.get("/api/v1/cases/?ordering=password"), 400)["errors"]["ordering"]


def test_throttling_per_token(settings, people, api_client):
    settings.MEHR = {**settings.MEHR, "API_THROTTLE_RATES": {"default": "3/min", "ingest": "3/min"}}
    first, second = api_client(people[Role.USER_AGENT]), api_client(people[Role.USER_AGENT])
    # Counters are keyed per token and live in the shared cache: forget any left by an earlier run.
    cache.delete_many([f"api-throttle:default:token-{t.pk}" for t in ApiToken.objects.all()])
    for _ in range(3):
        assert first.get("/api/v1/checks/").status_code == 200
    body = _is_problem(first.get("/api/v1/checks/"), 429)
    assert body["code"] == "throttled"
    assert int(first.get("/api/v1/checks/")["Retry-After"]) > 0
    # Another token of the same account has its own allowance.
    assert second.get("/api/v1/checks/").status_code == 200


def test_offsets_postgresql_cannot_take_are_compared_in_utc(clients, case, installation, check):
    # ISO 8601 allows offsets beyond PostgreSQL's ±15:59; found by schemathesis as a 500.
    client = clients[Role.DCC_OPERATOR]
    for query in ("raised_since=0555-01-20T03:13:40-17:07", "updated_since=0001-01-01T00:00:00%2B23:59"):
        response = client.get(f"/api/v1/cases/?{query}")
        assert response.status_code == 200 and len(response.json()["results"]) == 1, query
    assert client.get("/api/v1/installations/?updated_since=2000-01-01T00:00:00-17:07").status_code == 200
    event = {"source": "S1SP", "source_event_id": "tz", "check_code": check.code, "mpan": installation.mpan,
             "occurred_at": "2020-01-01T00:00:00-17:07"}  # fmt: skip
    response = clients[Role.DCC_INTEGRATION].post("/api/v1/exception-events/", event, format="json")
    assert response.status_code == 200 and response.json()["status"] == "added"
