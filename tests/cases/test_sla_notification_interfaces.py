"""The SLA clocks endpoint and the notification settings page and API."""

from __future__ import annotations

import pytest

from cases.domain import Role
from cases.models import NotificationPreference, NotificationSettings
from tests.factories import InstallationFactory, case_in_state

pytestmark = pytest.mark.django_db


def test_case_sla_endpoint_is_visibility_scoped(client, people, installation, other_supplier) -> None:
    case = case_in_state("RAISED", installation=installation)
    foreign = case_in_state("RAISED", installation=InstallationFactory(responsible_supplier=other_supplier))
    client.force_login(people[Role.USER_AGENT])
    clocks = client.get(f"/api/v1/cases/{case.reference}/sla/").json()
    assert [(c["party"], c["kind"], c["status"]) for c in clocks] == [
        ("DCC", "RESPONSE", "RUNNING"), ("DCC", "RESOLUTION", "RUNNING")]
    assert clocks[0]["target_days"] == 5.0 and clocks[0]["remaining_days"] <= 5.0 and not clocks[0]["breached"]
    assert client.get(f"/api/v1/cases/{foreign.reference}/sla/").status_code == 404


def test_notification_settings_page(client, people, supplier) -> None:
    client.force_login(people[Role.USER_AGENT])
    page = client.get("/settings/notifications/")
    assert page.status_code == 200 and "SLA breach" in page.content.decode()
    bad = client.post("/settings/notifications/", {"AWAITING_USER:webhook": "on", "webhook_url": "not a url"})
    assert bad.status_code == 400 and "webhook_url" in bad.content.decode()
    assert not NotificationPreference.objects.exists()
    ok = client.post("/settings/notifications/", {
        "AWAITING_USER:webhook": "on", "RESOLVED:email": "on", "webhook_url": "https://hooks.supplier-a.example/mehr",
        "webhook_secret": "a-long-enough-shared-secret", "email_recipients": "ops@supplier-a.example"})
    assert ok.status_code == 200 and "Saved." in ok.content.decode()
    assert NotificationSettings.objects.get(organisation=supplier).webhook_secret == "a-long-enough-shared-secret"
    assert NotificationPreference.objects.get(organisation=supplier, event="AWAITING_USER").by_webhook
    assert NotificationPreference.objects.get(organisation=supplier, event="RESOLVED").by_email
    # Saving again without typing the secret keeps it.
    client.post("/settings/notifications/", {"AWAITING_USER:webhook": "on",
                                             "webhook_url": "https://hooks.supplier-a.example/mehr"})
    assert NotificationSettings.objects.get(organisation=supplier).webhook_secret == "a-long-enough-shared-secret"
    client.force_login(people[Role.USER_VIEWER])
    assert client.get("/settings/notifications/").status_code == 200
    assert client.post("/settings/notifications/", {}).status_code == 403


def test_notification_preferences_api(client, people, supplier) -> None:
    client.force_login(people[Role.USER_INTEGRATION])
    body = client.get("/api/v1/notifications/preferences/").json()
    assert body["events"]["SLA_BREACH"] == {"label": "SLA breach", "email": False, "webhook": False}
    response = client.put("/api/v1/notifications/preferences/", {
        "webhook_url": "https://hooks.supplier-a.example/mehr", "webhook_secret": "x" * 32,
        "events": {"SLA_BREACH": {"webhook": True}, "SLA_WARNING": {"webhook": True}}}, content_type="application/json")
    assert response.status_code == 200 and response.json()["events"]["SLA_BREACH"]["webhook"]
    assert "webhook_secret" not in response.json()
    bad = client.put("/api/v1/notifications/preferences/", {"events": {"NOPE": {"email": True}}},
                     content_type="application/json")
    assert bad.status_code == 400 and "events.NOPE" in bad.json()["errors"]
