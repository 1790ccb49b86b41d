"""Notifications: outbox rows written with the case change, webhooks to a real HTTP server with
HMAC signatures, retries with backoff, the delivery log, dead letters and resend, and email."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from cases.domain import EventKind, Role, Visibility
from cases.errors import NotPermitted, TransitionRefused, ValidationFailed
from cases.models import CaseEvent, DeliveryAttempt, NotificationPreference, OutboxMessage
from cases.models.notifications import Channel, NotificationEvent, OutboxStatus
from cases.services import case_raise, case_transition
from cases.services import notifications as notify
from cases.services.notifications import (
    notification_preferences_get,
    notification_preferences_set,
    notifications_dispatch,
    outbox_resend,
    webhook_signature,
    webhook_verify,
)
from tests.factories import case_in_state, make_user
from tests.webhook_server import WebhookServer

pytestmark = pytest.mark.django_db
SECRET = "s3cret-shared-with-supplier-a"


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "NOTIFY_WEBHOOK_ALLOW_PRIVATE": True}


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    srv = WebhookServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def enqueued(monkeypatch):  # type: ignore[no-untyped-def]
    """Capture the on-commit enqueue instead of talking to the broker."""
    ids: list[int] = []
    monkeypatch.setattr(notify, "_enqueue", lambda pks: ids.extend(pks))
    return ids


@pytest.fixture
def subscribed(supplier, people, server):  # type: ignore[no-untyped-def]
    notification_preferences_set(
        organisation=supplier,
        actor=people[Role.USER_AGENT],
        webhook_url=server.url,
        webhook_secret=SECRET,
        events={e: {"email": True, "webhook": True} for e in NotificationEvent.values},
    )
    return supplier


def _webhook_only_awaiting_user(org) -> None:  # type: ignore[no-untyped-def]
    NotificationPreference.objects.filter(organisation=org).exclude(event="AWAITING_USER").delete()
    NotificationPreference.objects.filter(organisation=org).update(by_email=False)


def _await_user(case, people):  # type: ignore[no-untyped-def]
    return case_transition(case=case, transition="await_user", actor=people[Role.DCC_OPERATOR])


def test_outbox_rows_are_written_with_the_transition_and_sent_after_commit(
    installation, people, subscribed, server, enqueued, django_capture_on_commit_callbacks, settings
) -> None:
    settings.MEHR = {**settings.MEHR, "NOTIFY_RETRY_DELAYS_SECONDS": [1, 2]}  # keeps ALLOW_PRIVATE
    case = case_in_state("TRIAGED", installation=installation)
    OutboxMessage.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        _await_user(case, people)
    messages = OutboxMessage.objects.filter(case=case, event=NotificationEvent.AWAITING_USER)
    assert {m.channel for m in messages} == {Channel.WEBHOOK, Channel.EMAIL}
    assert sorted(enqueued) == sorted(m.pk for m in messages)
    assert server.received == []  # nothing is sent inside the request/transaction

    result = notifications_dispatch()
    assert result.sent == 2
    [hit] = server.received
    assert hit.headers["X-Mehr-Event"] == "AWAITING_USER"
    assert webhook_verify(secret=SECRET, timestamp=hit.headers["X-Mehr-Timestamp"], body=hit.body,
                          signature=hit.headers["X-Mehr-Signature"])
    assert not webhook_verify(secret="wrong-secret-0000", timestamp=hit.headers["X-Mehr-Timestamp"],
                              body=hit.body, signature=hit.headers["X-Mehr-Signature"])
    payload = json.loads(hit.body)
    assert payload["case"]["reference"] == case.reference and payload["event"] == "AWAITING_USER"
    assert payload["id"] == hit.headers["X-Mehr-Message-Id"]
    [email] = mail.outbox
    assert email.to == [people[Role.USER_AGENT].email] and case.reference in email.subject
    assert set(OutboxMessage.objects.filter(case=case).values_list("status", flat=True)) == {OutboxStatus.SENT}
    assert DeliveryAttempt.objects.filter(message__case=case, success=True).count() == 2
    recorded = CaseEvent.objects.filter(case=case, kind=EventKind.NOTIFICATION)
    assert recorded.count() == 2 and all(e.visibility == Visibility.SHARED for e in recorded)


def test_nothing_is_written_when_the_change_rolls_back(installation, people, subscribed, enqueued) -> None:
    case = case_in_state("AWAITING_USER", installation=installation)
    before = OutboxMessage.objects.count()
    with pytest.raises(TransitionRefused):
        _await_user(case, people)
    assert OutboxMessage.objects.count() == before


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhook_signature(secret="k" * 16, timestamp=1700000000, body=body) == f"v1={expected}"
    # Receivers reject old timestamps (replays).
    assert not webhook_verify(secret="k" * 16, timestamp="1700000000", body=body, signature=f"v1={expected}",
                              now=1700000000 + 3600)


def test_failed_webhooks_are_retried_with_backoff_and_logged(
    installation, people, subscribed, server, enqueued, settings
) -> None:
    settings.MEHR = {**settings.MEHR, "NOTIFY_RETRY_DELAYS_SECONDS": [10, 60, 300]}
    server.statuses = [500, 503, 200]
    _webhook_only_awaiting_user(subscribed)
    case = case_in_state("TRIAGED", installation=installation)
    _await_user(case, people)
    message = OutboxMessage.objects.get(case=case, event=NotificationEvent.AWAITING_USER)
    t0 = timezone.now()
    assert notifications_dispatch(now=t0).failed == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING and message.attempts == 1
    assert message.next_attempt_at == t0 + timedelta(seconds=10)
    assert notifications_dispatch(now=t0 + timedelta(seconds=5)).as_dict() == {"sent": 0, "failed": 0, "dead": 0}
    assert notifications_dispatch(now=t0 + timedelta(seconds=11)).failed == 1
    message.refresh_from_db()
    assert message.next_attempt_at == t0 + timedelta(seconds=11 + 60)
    assert notifications_dispatch(now=t0 + timedelta(seconds=80)).sent == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and message.attempts == 3
    log = list(DeliveryAttempt.objects.filter(message=message).values_list("attempt", "success", "status_code"))
    assert log == [(1, False, 500), (2, False, 503), (3, True, 200)]
    # The same message id on every attempt lets the receiver deduplicate.
    assert len({r.headers["X-Mehr-Message-Id"] for r in server.received}) == 1
    assert [r.headers["X-Mehr-Delivery-Attempt"] for r in server.received] == ["1", "2", "3"]


def test_dead_letter_then_resend_from_the_admin(
    installation, people, subscribed, server, enqueued, settings, client
) -> None:
    settings.MEHR = {**settings.MEHR, "NOTIFY_RETRY_DELAYS_SECONDS": [1]}
    server.statuses = [500]
    _webhook_only_awaiting_user(subscribed)
    case = case_in_state("TRIAGED", installation=installation)
    _await_user(case, people)
    message = OutboxMessage.objects.get(case=case, event=NotificationEvent.AWAITING_USER)
    t0 = timezone.now()
    notifications_dispatch(now=t0)
    assert notifications_dispatch(now=t0 + timedelta(seconds=2)).dead == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD and message.dead_at is not None and "HTTP 500" in message.last_error
    dead_event = CaseEvent.objects.get(case=case, kind=EventKind.NOTIFICATION)
    assert dead_event.visibility == Visibility.INTERNAL and "dead-lettered" in dead_event.body

    manager = people[Role.DCC_MANAGER]
    manager.is_staff = manager.is_superuser = True
    manager.save()
    client.force_login(manager)
    page = client.get("/admin/cases/deadletter/")
    assert page.status_code == 200 and str(message.message_id) in page.content.decode()
    server.statuses = [200]
    response = client.post("/admin/cases/deadletter/", {"action": "resend", "_selected_action": [message.pk]})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING and message.attempts == 0 and message.resent_by == manager
    assert notifications_dispatch().sent == 1
    assert DeliveryAttempt.objects.filter(message=message).count() == 3
    assert len(server.received) == 3


def test_unreachable_endpoint_is_a_failed_attempt(installation, people, supplier, enqueued, settings) -> None:
    gone = WebhookServer().start()
    url = gone.url
    gone.stop()
    notification_preferences_set(organisation=supplier, actor=people[Role.USER_AGENT], webhook_url=url,
                                 webhook_secret=SECRET, events={"AWAITING_USER": {"webhook": True}})
    case = case_in_state("TRIAGED", installation=installation)
    _await_user(case, people)
    assert notifications_dispatch().failed == 1
    attempt = DeliveryAttempt.objects.get(message__case=case)
    assert not attempt.success and attempt.status_code is None and "ConnectionError" in attempt.error


def test_only_subscribed_events_and_channels(installation, people, supplier, enqueued, other_supplier) -> None:
    notification_preferences_set(organisation=supplier, actor=people[Role.USER_AGENT],
                                 events={"RESOLVED": {"email": True}})
    case = case_raise(installation=installation, check=case_in_state("RAISED").check_type, source="t",
                      source_event_id="x1").case
    assert not OutboxMessage.objects.filter(case=case).exists()  # CASE_RAISED not chosen
    prefs = notification_preferences_get(organisation=supplier)
    assert prefs["events"]["RESOLVED"] == {"label": "Resolved", "email": True, "webhook": False}
    assert prefs["webhook_secret_set"] is False


def test_preferences_are_validated_and_scoped_to_the_organisation(people, supplier, other_supplier) -> None:
    agent = people[Role.USER_AGENT]
    with pytest.raises(NotPermitted):
        notification_preferences_set(organisation=other_supplier, actor=agent, events={})
    with pytest.raises(NotPermitted):
        notification_preferences_set(organisation=supplier, actor=people[Role.USER_VIEWER], events={})
    with pytest.raises(ValidationFailed) as exc:
        notification_preferences_set(organisation=supplier, actor=agent, webhook_url="ftp://x", webhook_secret="short",
                                     email_recipients="ok@example.org, nope",
                                     events={"NOPE": {}, "RESOLVED": {"webhook": True}})
    assert set(exc.value.errors) == {"events", "webhook_url", "webhook_secret", "email_recipients"}
    assert not NotificationPreference.objects.exists()


def test_sla_breach_notifies_the_user_and_dcc_managers(installation, people, supplier, enqueued) -> None:
    from freezegun import freeze_time

    from cases.services.sla import sla_scan

    notification_preferences_set(organisation=supplier, actor=people[Role.USER_AGENT],
                                 email_recipients="ops@supplier-a.example",
                                 events={"SLA_BREACH": {"email": True}, "SLA_WARNING": {"email": True}})
    second_manager = make_user(Role.DCC_MANAGER, people[Role.DCC_MANAGER].membership.organisation,
                               username="mgr2")
    case = case_in_state("RAISED", installation=installation)
    with freeze_time(timezone.now() + timedelta(days=30)):
        sla_scan()
        notifications_dispatch()
    breach_mail = [m for m in mail.outbox if "SLA breach" in m.subject]
    recipients = sorted(a for m in breach_mail for a in m.to)
    assert "ops@supplier-a.example" in recipients
    assert people[Role.DCC_MANAGER].email in recipients and second_manager.email in recipients
    assert all(case.reference in m.subject for m in breach_mail)


def test_resend_needs_dcc_staff(installation, people, supplier, enqueued) -> None:
    notification_preferences_set(organisation=supplier, actor=people[Role.USER_AGENT],
                                 events={"AWAITING_USER": {"email": True}})
    case = case_in_state("TRIAGED", installation=installation)
    _await_user(case, people)
    message = OutboxMessage.objects.get(case=case)
    with pytest.raises(ValidationFailed):
        outbox_resend(message=message, actor=people[Role.DCC_MANAGER])  # still pending
    with pytest.raises(NotPermitted):
        outbox_resend(message=message, actor=people[Role.USER_AGENT])


def test_private_destinations_are_refused_by_default(installation, people, subscribed, server, enqueued,
                                                      settings) -> None:
    settings.MEHR = {**settings.MEHR, "NOTIFY_WEBHOOK_ALLOW_PRIVATE": False}
    _webhook_only_awaiting_user(subscribed)
    case = case_in_state("TRIAGED", installation=installation)
    _await_user(case, people)
    assert notifications_dispatch().failed == 1
    assert server.received == []
    attempt = DeliveryAttempt.objects.get(message__case=case)
    assert "non-public address (127.0.0.1)" in attempt.error
