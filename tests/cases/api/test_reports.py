"""The issue-6 endpoints in the API: SLA clocks, daily reports (JSON and CSV), the streaming case
export, the exception-events CSV import and notification preferences. Token authentication,
per-token throttling, problem details for every error, and what each organisation may see."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.domain import CaseState, Role
from cases.models import ApiToken, Case, CsvImport, NotificationPreference
from cases.models.notifications import NotificationSettings
from cases.services.reports import reports_generate_daily
from tests.factories import InstallationFactory, case_in_state

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 26)
USER_ROLES = (Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION)
DCC_READERS = (Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.DCC_INTEGRATION)
# Values of ?organisation= that are not an organisation code: a 400 each, never a 500.
ODD_ORGANISATIONS = ["\x00", "supplier-a\x00", "a b", "x" * 33, "é", "../ALL", "ALL;DROP", "%", "'", "[]"]


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].endswith(body["code"])
    return body


def csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(content.decode())))


@pytest.fixture
def reports(supplier, other_supplier, installation, check):  # type: ignore[no-untyped-def]
    """A case each for supplier A and B, and the day's reports (A, B and all Users)."""
    mine = case_in_state(CaseState.AWAITING_USER, installation=installation, check=check)
    theirs = case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=other_supplier),
                           check=check)
    reports_generate_daily(report_date=DAY)
    return mine, theirs


# --- SLA clocks --------------------------------------------------------------------------------------
def test_sla_clocks_of_a_visible_case(clients, reports):
    mine, theirs = reports
    clocks = clients[Role.USER_AGENT].get(f"/api/v1/cases/{mine.reference}/sla/").json()
    # (case_in_state bypasses the lifecycle: the clocks are those started when the case was raised.)
    assert [(c["party"], c["kind"]) for c in clocks] == [("DCC", "RESPONSE"), ("DCC", "RESOLUTION")]
    assert all(set(c) >= {"status", "target_days", "remaining_days", "due_at", "breached"} for c in clocks)
    assert clients[Role.DCC_OPERATOR].get(f"/api/v1/cases/{theirs.reference}/sla/").status_code == 200
    problem(clients[Role.USER_AGENT].get("/api/v1/cases/MEHR-999999/sla/"), 404)
    problem(clients[Role.USER_AGENT].get("/api/v1/cases/not-a-reference/sla/"), 404)


# --- daily reports -----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", USER_ROLES)
def test_a_user_lists_only_its_own_reports(role, clients, reports):
    client = clients[role]
    body = client.get("/api/v1/reports/daily/").json()
    assert [r["scope"] for r in body["results"]] == ["supplier-a"] and body["next"] is None
    report = body["results"][0]
    assert report["report_date"] == "2026-11-26" and report["data"]["scope_name"] == "Supplier A"
    assert set(report["data"]) >= {"installations_migrated", "migrated_on_day", "failed", "open_by_state",
                                   "pending_retry", "exclusion_proposed", "sla_open_breached"}
    # Another organisation's code, or the all-User report, match nothing (not an error, not data).
    for code in ("supplier-b", "ALL", "no-such-org"):
        assert client.get("/api/v1/reports/daily/", {"organisation": code}).json()["results"] == [], code
    assert len(client.get("/api/v1/reports/daily/", {"organisation": "supplier-a"}).json()["results"]) == 1


@pytest.mark.parametrize("role", DCC_READERS)
def test_dcc_lists_every_users_report_and_the_all_user_one(role, clients, reports):
    client = clients[role]
    scopes = [r["scope"] for r in client.get("/api/v1/reports/daily/").json()["results"]]
    assert sorted(scopes) == ["ALL", "supplier-a", "supplier-b"]
    assert [r["scope"] for r in client.get("/api/v1/reports/daily/?organisation=ALL").json()["results"]] == ["ALL"]
    only_b = client.get("/api/v1/reports/daily/", {"organisation": "supplier-b"}).json()["results"]
    assert [r["scope"] for r in only_b] == ["supplier-b"]
    assert client.get("/api/v1/reports/daily/", {"date": "2026-11-25"}).json()["results"] == []
    assert len(client.get("/api/v1/reports/daily/", {"date_from": "2026-11-26", "date_to": "2026-11-26"})
               .json()["results"]) == 3


def test_report_list_pages_newest_first(clients, reports):
    reports_generate_daily(report_date=date(2026, 11, 27))
    client = clients[Role.USER_AGENT]
    first = client.get("/api/v1/reports/daily/?page_size=1").json()
    assert [r["report_date"] for r in first["results"]] == ["2026-11-27"]
    second = client.get(first["next"]).json()
    assert [r["report_date"] for r in second["results"]] == ["2026-11-26"] and second["next"] is None


def test_report_detail_and_csv(clients, reports):
    user, dcc = clients[Role.USER_AGENT], clients[Role.DCC_OPERATOR]
    assert user.get("/api/v1/reports/daily/2026-11-26/").json()["scope"] == "supplier-a"
    assert dcc.get("/api/v1/reports/daily/2026-11-26/").json()["scope"] == "ALL"
    assert dcc.get("/api/v1/reports/daily/2026-11-26/?organisation=supplier-b").json()["scope"] == "supplier-b"
    response = user.get("/api/v1/reports/daily/2026-11-26/csv/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="mehr-exceptions-supplier-a-2026-11-26.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert {r["scope"] for r in rows} == {"supplier-a"}
    assert {"installations_migrated", "migrated_on_day", "pending_retry"} <= {r["item"] for r in rows}
    everyone = dcc.get("/api/v1/reports/daily/2026-11-26/csv/")
    assert "mehr-exceptions-all-users-2026-11-26.csv" in everyone["Content-Disposition"]


def test_report_errors_are_problems(clients, reports, api_client):
    user, dcc = clients[Role.USER_AGENT], clients[Role.DCC_OPERATOR]
    for url in ("/api/v1/reports/daily/not-a-date/", "/api/v1/reports/daily/2026-13-01/csv/"):
        assert "day" in problem(user.get(url), 400)["errors"]
    problem(user.get("/api/v1/reports/daily/2026-11-25/"), 404)
    problem(dcc.get("/api/v1/reports/daily/2026-11-25/csv/"), 404)
    problem(dcc.get("/api/v1/reports/daily/2026-11-26/?organisation=no-such-org"), 404)
    assert "date" in problem(user.get("/api/v1/reports/daily/?date=yesterday"), 400)["errors"]
    assert "ordering" in problem(user.get("/api/v1/reports/daily/?ordering=data"), 400)["errors"]
    problem(user.get("/api/v1/reports/daily/?cursor=garbage"), 404)
    body = problem(api_client(None).get("/api/v1/reports/daily/"), 401)
    assert body["code"] == "not_authenticated"
    bad_token = api_client(None)
    bad_token.credentials(HTTP_AUTHORIZATION="Token nope")
    problem(bad_token.get("/api/v1/reports/daily/2026-11-26/csv/"), 401)
    problem(user.post("/api/v1/reports/daily/", {}), 405)


@pytest.mark.parametrize("role", [Role.USER_AGENT, Role.DCC_OPERATOR])
@pytest.mark.parametrize("value", ODD_ORGANISATIONS)
def test_an_odd_organisation_value_is_a_400_everywhere(role, value, clients, reports):
    client = clients[role]
    for url in ("/api/v1/reports/daily/", "/api/v1/reports/daily/2026-11-26/", "/api/v1/reports/daily/2026-11-26/csv/",
                "/api/v1/notifications/preferences/"):
        body = problem(client.get(url, {"organisation": value}), 400)
        assert list(body["errors"]) == ["organisation"], url


@pytest.mark.parametrize("role", USER_ROLES)
def test_another_users_report_is_404(role, clients, reports):
    client = clients[role]
    for url in ("/api/v1/reports/daily/2026-11-26/?organisation=supplier-b",
                "/api/v1/reports/daily/2026-11-26/csv/?organisation=supplier-b",
                "/api/v1/reports/daily/2026-11-26/?organisation=ALL"):
        body = problem(client.get(url), 404)
        assert "Supplier B" not in str(body)


# --- streaming export -------------------------------------------------------------------------------
def test_export_streams_what_you_may_see(clients, reports):
    mine, theirs = reports
    rows = csv_rows(clients[Role.USER_INTEGRATION].get("/api/v1/cases/export.csv"))
    assert [r["reference"] for r in rows] == [mine.reference]
    # Asking for another supplier's cases finds none (never theirs).
    assert csv_rows(clients[Role.USER_AGENT].get("/api/v1/cases/export.csv?supplier=supplier-b")) == []
    everything = csv_rows(clients[Role.DCC_OPERATOR].get("/api/v1/cases/export.csv"))
    assert [r["reference"] for r in everything] == [mine.reference, theirs.reference]
    only_b = csv_rows(clients[Role.DCC_OPERATOR].get("/api/v1/cases/export.csv?supplier=supplier-b&state=AWAITING_USER"))
    assert [r["reference"] for r in only_b] == [theirs.reference]
    assert csv_rows(clients[Role.DCC_OPERATOR].get("/api/v1/cases/export.csv?state=RAISED,TRIAGED")) == []


def test_export_errors_are_problems_before_anything_streams(clients, reports, api_client):
    client = clients[Role.DCC_OPERATOR]
    body = problem(client.get("/api/v1/cases/export.csv", {"state": "NOPE", "sla": "late", "raised_from": "May"}), 400)
    assert set(body["errors"]) == {"state", "sla", "raised_from"}
    problem(api_client(None).get("/api/v1/cases/export.csv"), 401)


def test_export_odd_values_match_nothing_rather_than_fail(clients, reports):
    client = clients[Role.DCC_OPERATOR]
    for params in ({"q": "MEHR-99999999999999999999999"}, {"q": "\x00"}, {"supplier": "a\x00b"},
                   {"check": "\x00"}, {"assignee": "x" * 5000}):
        response = client.get("/api/v1/cases/export.csv", params)
        assert response.status_code == 200 and csv_rows(response) == [], params
    for params in ({"raised_to": "9999-12-31"}, {"raised_from": "0001-01-01"}):
        response = client.get("/api/v1/cases/export.csv", params)
        assert response.status_code == 200 and len(csv_rows(response)) == 2, params


def test_export_has_its_own_throttle_per_token(settings, people, api_client):
    settings.MEHR = {**settings.MEHR, "API_THROTTLE_RATES": {"default": "100/min", "export": "2/min"}}
    client = api_client(people[Role.USER_AGENT])
    cache.delete_many([f"api-throttle:export:token-{t.pk}" for t in ApiToken.objects.all()])
    for _ in range(2):
        assert client.get("/api/v1/cases/export.csv").status_code == 200
    body = problem(client.get("/api/v1/cases/export.csv"), 429)
    assert body["code"] == "throttled"
    assert client.get("/api/v1/reports/daily/").status_code == 200  # other endpoints: their own allowance


# --- CSV import ------------------------------------------------------------------------------------
HEADER = "source,source_event_id,check_code,occurred_at,installation_id,mpan,mprn,stage,detail\n"


def _upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("events.csv", text.encode(), "text/csv")


def test_import_dry_run_then_import(clients, installation, check):
    client = clients[Role.DCC_INTEGRATION]
    text = HEADER + f"mcc,e1,{check.code},2026-11-20T10:00:00+00:00,{installation.pk},,,,first\n"
    body = client.post("/api/v1/imports/exception-events/", {"file": _upload(text)}, format="multipart").json()
    assert body["dry_run"] and body["ok"] and not body["written"] and not Case.objects.exists()
    assert body["rows"][0]["action"] == "create_case"
    response = client.post("/api/v1/imports/exception-events/", {"file": _upload(text), "dry_run": "false"},
                           format="multipart")
    assert response.status_code == 200 and response.json()["written"] and Case.objects.count() == 1


def test_import_errors_are_problems_with_the_report(clients, installation, check):
    client = clients[Role.DCC_OPERATOR]
    text = HEADER + f"mcc,e1,NOPE,2026-11-20T10:00:00+00:00,{installation.pk},,,,bad check\n"
    body = problem(client.post("/api/v1/imports/exception-events/", {"file": _upload(text), "dry_run": "false"},
                               format="multipart"), 400)
    assert body["code"] == "import_invalid" and not body["written"] and body["counts"]["error"] == 1
    assert any(key.startswith("rows.2.") for key in body["errors"])
    assert not Case.objects.exists() and CsvImport.objects.get().status == "REJECTED"
    assert "file" in problem(client.post("/api/v1/imports/exception-events/", {}, format="multipart"), 400)["errors"]
    bad_flag = client.post("/api/v1/imports/exception-events/", {"file": _upload(HEADER), "dry_run": "maybe"},
                           format="multipart")
    assert "dry_run" in problem(bad_flag, 400)["errors"]
    problem(client.post("/api/v1/imports/exception-events/", {"file": "x"}, format="json"), 415)
    not_utf8 = SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad", "text/csv")
    assert "file" in problem(client.post("/api/v1/imports/exception-events/", {"file": not_utf8},
                                         format="multipart"), 400)["errors"]


@pytest.mark.parametrize("role", USER_ROLES)
def test_users_may_not_import(role, clients, installation, check):
    text = HEADER + f"mcc,e1,{check.code},2026-11-20T10:00:00+00:00,{installation.pk},,,,first\n"
    problem(clients[role].post("/api/v1/imports/exception-events/", {"file": _upload(text), "dry_run": "false"},
                               format="multipart"), 403)
    assert not Case.objects.exists()


# --- notification preferences ------------------------------------------------------------------------
WEBHOOK = {"webhook_url": "https://hooks.supplier-a.example/mehr", "webhook_secret": "s" * 32,
           "events": {"SLA_BREACH": {"webhook": True}, "RESOLVED": {"email": True}}}


def test_preferences_read_and_replace(clients, supplier):
    client = clients[Role.USER_AGENT]
    body = client.get("/api/v1/notifications/preferences/").json()
    assert body["events"]["SLA_BREACH"] == {"label": "SLA breach", "email": False, "webhook": False}
    response = client.put("/api/v1/notifications/preferences/", WEBHOOK, format="json")
    assert response.status_code == 200
    saved = response.json()
    assert saved["events"]["SLA_BREACH"]["webhook"] and saved["events"]["RESOLVED"]["email"]
    assert saved["webhook_secret_set"] and "webhook_secret" not in saved
    assert NotificationSettings.objects.get(organisation=supplier).webhook_secret == "s" * 32
    # The User's own code is accepted too.
    assert client.get("/api/v1/notifications/preferences/?organisation=supplier-a").json()["webhook_secret_set"]


def test_preferences_errors_are_problems(clients, supplier):
    client = clients[Role.USER_AGENT]
    for body, field in (({"events": {"NOPE": {"email": True}}}, "events.NOPE"),
                        ({"events": {"SLA_BREACH": {"webhook": True}}}, "webhook_url"),
                        ({"events": {}, "webhook_url": "not a url"}, "webhook_url"),
                        ({"events": {}, "email_recipients": "ops@, nobody"}, "email_recipients"),
                        ({"events": {}, "webhook_secret": "short"}, "webhook_secret"),
                        ({"events": "all"}, "events.non_field_errors"),
                        ({}, "events")):
        assert field in problem(client.put("/api/v1/notifications/preferences/", body, format="json"), 400)["errors"]
    problem(client.put("/api/v1/notifications/preferences/", "{", content_type="application/json"), 400)
    problem(client.put("/api/v1/notifications/preferences/", "events=", content_type="application/x-www-form-urlencoded"),
            415)
    assert not NotificationPreference.objects.exists()
    problem(clients[Role.USER_VIEWER].put("/api/v1/notifications/preferences/", WEBHOOK, format="json"), 403)
    problem(clients[Role.DCC_OPERATOR].put("/api/v1/notifications/preferences/?organisation=supplier-a", WEBHOOK,
                                           format="json"), 403)
    assert not NotificationPreference.objects.exists()


@pytest.mark.parametrize("role", USER_ROLES)
def test_another_users_preferences_are_404(role, clients, other_supplier):
    client = clients[role]
    problem(client.get("/api/v1/notifications/preferences/?organisation=supplier-b"), 404)
    problem(client.put("/api/v1/notifications/preferences/?organisation=supplier-b", WEBHOOK, format="json"), 404)
    assert not NotificationSettings.objects.filter(organisation=other_supplier).exists()


def test_a_dcc_manager_sets_a_users_preferences(clients, supplier):
    manager = clients[Role.DCC_MANAGER]
    response = manager.put("/api/v1/notifications/preferences/?organisation=supplier-a", WEBHOOK, format="json")
    assert response.status_code == 200
    assert NotificationPreference.objects.filter(organisation=supplier, event="SLA_BREACH", by_webhook=True).exists()
    assert clients[Role.DCC_OPERATOR].get("/api/v1/notifications/preferences/?organisation=supplier-a").json()[
        "events"]["SLA_BREACH"]["webhook"]
    problem(manager.get("/api/v1/notifications/preferences/?organisation=no-such-org"), 404)


# --- the schema ---------------------------------------------------------------------------------------
def test_the_schema_documents_these_endpoints():
    from rest_framework.test import APIClient

    paths = APIClient().get("/api/v1/schema/?format=json").json()["paths"]
    expected = {
        "/api/v1/cases/{reference}/sla/": "get", "/api/v1/reports/daily/": "get", "/api/v1/reports/daily/{day}/": "get",
        "/api/v1/reports/daily/{day}/csv/": "get", "/api/v1/cases/export.csv": "get",
        "/api/v1/imports/exception-events/": "post", "/api/v1/notifications/preferences/": "put",
    }
    for path, method in expected.items():
        operation = paths[path][method]
        assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), path
        assert "application/problem+json" in operation["responses"]["400"]["content"], path
        assert operation["security"], path
    organisation = next(p for p in paths["/api/v1/reports/daily/"]["get"]["parameters"] if p["name"] == "organisation")
    assert organisation["schema"]["pattern"]
    export = {p["name"] for p in paths["/api/v1/cases/export.csv"]["get"]["parameters"]}
    assert export >= {"state", "supplier", "check", "sla", "q", "raised_from", "raised_to"}
    assert "text/csv" in paths["/api/v1/reports/daily/{day}/csv/"]["get"]["responses"]["200"]["content"]
