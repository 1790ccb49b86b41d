"""Notifications: write outbox rows with the case change, send them from Celery, retry, dead-letter.

* ``notifications_on_event`` runs inside the service transaction that records a case event and
  writes outbox rows for the organisations that asked for that event; it enqueues delivery with
  ``transaction.on_commit`` so nothing is sent for a change that rolled back.
* ``notifications_dispatch`` (beat) claims due messages with SKIP LOCKED and a lease, so a
  message is never sent by two workers at once and a dead worker's claim expires.
* Webhooks carry ``X-Mehr-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`` and
  ``X-Mehr-Timestamp``; see docs/NOTIFICATIONS.md for verification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from cases.domain import CaseState, EventKind, OrganisationKind, Role, Visibility
from cases.errors import NotPermitted, ValidationFailed
from cases.models import (
    Case,
    CaseEvent,
    DeliveryAttempt,
    NotificationPreference,
    NotificationSettings,
    Organisation,
    OutboxMessage,
)
from cases.models.notifications import Channel, NotificationEvent, OutboxStatus
from cases.roles import organisation_of, role_of

from .events import event_record

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Mehr-Signature"
TIMESTAMP_HEADER = "X-Mehr-Timestamp"
SIGNATURE_VERSION = "v1"

_TRANSITION_EVENTS = {
    CaseState.AWAITING_USER: NotificationEvent.AWAITING_USER,
    CaseState.RETRY_SCHEDULED: NotificationEvent.RETRY_SCHEDULED,
    CaseState.RESOLVED: NotificationEvent.RESOLVED,
    CaseState.RESOLVED_PARTIAL: NotificationEvent.RESOLVED,
    CaseState.EXCLUSION_PROPOSED: NotificationEvent.EXCLUSION_PROPOSED,
}


# --- signing -------------------------------------------------------------------------------------
def webhook_signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 with the shared secret over ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


def webhook_verify(*, secret: str, timestamp: str, body: bytes, signature: str, tolerance_seconds: int = 300,
                   now: float | None = None) -> bool:
    """What a receiver does (reference implementation, used by the tests)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now or time.time()) - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(webhook_signature(secret=secret, timestamp=ts, body=body), signature)


def message_body(message: OutboxMessage) -> bytes:
    return json.dumps(message.payload, sort_keys=True, separators=(",", ":")).encode()


# --- writing outbox rows (inside the event's transaction) ----------------------------------------
def notification_event_for(event: CaseEvent) -> str:
    if event.kind == EventKind.RAISED:
        return NotificationEvent.CASE_RAISED
    if event.kind == EventKind.TRANSITION:
        return _TRANSITION_EVENTS.get(event.to_state, "")
    if event.kind == EventKind.SLA:
        action = (event.data or {}).get("action")
        return {"warning": NotificationEvent.SLA_WARNING, "breach": NotificationEvent.SLA_BREACH}.get(action, "")
    return ""


def _case_payload(case: Case) -> dict[str, Any]:
    installation = case.installation
    return {
        "reference": case.reference,
        "state": case.state,
        "priority": case.priority,
        "check_code": case.check_type.code,
        "stage": case.stage,
        "category": case.category,
        "owner_party": case.owner_party,
        "installation_id": installation.pk,
        "mpan": installation.mpan,
        "mprn": installation.mprn,
        "supplier": case.supplier.code,
        "url": f"{settings.MEHR['NOTIFY_SITE_URL'].rstrip('/')}/cases/{case.reference}/",
    }


def _subject(event_type: str, case: Case, event: CaseEvent) -> str:
    return f"[MEHR] {case.reference} {case.check_type.code}: {NotificationEvent(event_type).label}"


def _email_text(event_type: str, case: Case, event: CaseEvent) -> str:
    lines = [
        f"{NotificationEvent(event_type).label} — {case.reference}",
        "",
        f"Check: {case.check_type.code} {case.check_type.title}",
        f"State: {CaseState(case.state).label}",
        f"Installation: {case.installation.mpxn}",
    ]
    if event.kind == EventKind.SLA and event.body:
        lines.append(event.body)
    lines += ["", f"Open the case: {_case_payload(case)['url']}"]
    return "\n".join(lines)


def _org_emails(organisation: Organisation, settings_row: NotificationSettings | None, roles: set[str]) -> list[str]:
    if settings_row is not None and settings_row.email_list:
        return settings_row.email_list
    return sorted(
        {
            e
            for e in get_user_model()
            .objects.filter(is_active=True, membership__organisation=organisation, membership__role__in=roles)
            .exclude(email="")
            .values_list("email", flat=True)
        }
    )


class _Lookups:
    """Preferences, settings and addresses read once per organisation (per event, or per batch)."""

    def __init__(self, organisation_ids: set[int], event_types: set[str]) -> None:
        self.prefs = {
            (p.organisation_id, p.event): p
            for p in NotificationPreference.objects.select_related("organisation").filter(
                organisation_id__in=organisation_ids, event__in=event_types, organisation__is_active=True
            )
        }
        self._settings: dict[int, NotificationSettings | None] = {}
        self._emails: dict[tuple[int, frozenset[str]], list[str]] = {}
        self._dcc: list[Organisation | None] = []

    def settings(self, organisation_id: int) -> NotificationSettings | None:
        if organisation_id not in self._settings:
            self._settings[organisation_id] = NotificationSettings.objects.filter(organisation_id=organisation_id).first()
        return self._settings[organisation_id]

    def emails(self, organisation: Organisation, roles: set[str]) -> list[str]:
        key = (organisation.pk, frozenset(roles))
        if key not in self._emails:
            self._emails[key] = _org_emails(organisation, self.settings(organisation.pk), roles)
        return self._emails[key]

    def dcc(self) -> Organisation | None:
        if not self._dcc:
            self._dcc.append(Organisation.objects.filter(kind=OrganisationKind.DCC).order_by("pk").first())
        return self._dcc[0]


def _messages_for(event: CaseEvent, event_type: str, lookups: _Lookups) -> list[OutboxMessage]:
    """The outbox rows (unsaved) one case event causes."""
    case = event.case
    messages: list[OutboxMessage] = []
    payload_base = {
        "event": event_type,
        "occurred_at": event.created_at.isoformat(),
        "case": _case_payload(case),
        "detail": {k: v for k, v in (event.data or {}).items() if k not in ("changes",)},
    }
    if event.kind == EventKind.TRANSITION:
        payload_base["detail"] = {"transition": event.transition, "from_state": event.from_state,
                                  "to_state": event.to_state}
    pref = lookups.prefs.get((case.supplier_id, event_type))
    if pref is not None and (pref.by_email or pref.by_webhook):
        org_settings = lookups.settings(case.supplier_id)
        if pref.by_webhook and org_settings is not None and org_settings.webhook_url:
            messages.append(_outbox(case, pref.organisation, event_type, Channel.WEBHOOK, org_settings.webhook_url,
                                    payload_base, event))
        if pref.by_email:
            to = lookups.emails(pref.organisation, {Role.USER_AGENT})
            if to:
                messages.append(_outbox(case, pref.organisation, event_type, Channel.EMAIL, ",".join(to),
                                        payload_base, event))
    if event_type == NotificationEvent.SLA_BREACH and (event.data or {}).get("party") == "DCC":
        # DCC-owned breaches always reach the DCC managers.
        dcc = lookups.dcc()
        if dcc is not None:
            to = lookups.emails(dcc, {Role.DCC_MANAGER})
            if to:
                messages.append(_outbox(case, dcc, event_type, Channel.EMAIL, ",".join(to), payload_base, event))
    return messages


def _save(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    if messages:
        OutboxMessage.objects.bulk_create(messages)
        ids = [m.pk for m in messages]
        transaction.on_commit(lambda: _enqueue(ids))
    return messages


def notifications_on_event(*, event: CaseEvent) -> list[OutboxMessage]:
    """Write the outbox rows this case event causes (in the caller's transaction)."""
    event_type = notification_event_for(event)
    if not event_type:
        return []
    lookups = _Lookups({event.case.supplier_id}, {event_type})
    return _save(_messages_for(event, event_type, lookups))


def notifications_on_events(*, event_ids: list[int]) -> list[OutboxMessage]:
    """notifications_on_event for many events (batch raising) with a constant number of queries
    (one more per organisation that is emailed), and one insert for all the outbox rows."""
    events = list(
        CaseEvent.objects.filter(pk__in=event_ids)
        .select_related("case__installation", "case__check_type", "case__supplier")
        .order_by("pk")
    )
    typed = [(event, kind) for event in events if (kind := notification_event_for(event))]
    if not typed:
        return []
    lookups = _Lookups({event.case.supplier_id for event, _ in typed}, {kind for _, kind in typed})
    return _save([m for event, kind in typed for m in _messages_for(event, kind, lookups)])


def _outbox(case: Case, org: Organisation, event_type: str, channel: str, destination: str,
            payload_base: dict[str, Any], event: CaseEvent) -> OutboxMessage:
    message_id = uuid.uuid4()
    payload = {"id": str(message_id), **payload_base}
    return OutboxMessage(
        message_id=message_id,
        organisation=org,
        case=case,
        event=event_type,
        channel=channel,
        destination=destination,
        subject=_subject(event_type, case, event) if channel == Channel.EMAIL else "",
        payload=payload if channel == Channel.WEBHOOK else {**payload, "text": _email_text(event_type, case, event)},
    )


def _enqueue(ids: list[int]) -> None:
    from cases.tasks import notifications_send

    for pk in ids:
        try:
            notifications_send.delay(pk)
        except Exception:  # the broker is down: beat's dispatcher sends it later
            log.warning("could not enqueue outbox message %s; the dispatcher will pick it up", pk, exc_info=True)


# --- sending (Celery, never a web request) ----------------------------------------------------------
@dataclass
class DispatchResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "dead": self.dead}


def _claim(*, now: datetime, limit: int, pk: int | None = None) -> list[OutboxMessage]:
    """Take due messages: bump attempts and push next_attempt_at out by the lease, under SKIP LOCKED."""
    lease = timedelta(seconds=settings.MEHR["NOTIFY_CLAIM_LEASE_SECONDS"])
    with transaction.atomic():
        qs = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=now
        )
        if pk is not None:
            qs = qs.filter(pk=pk)
        claimed = list(qs.order_by("next_attempt_at", "pk")[:limit])
        for m in claimed:
            m.attempts += 1
            m.next_attempt_at = now + lease
            m.save(update_fields=["attempts", "next_attempt_at"])
    return claimed


def notifications_dispatch(*, now: datetime | None = None, limit: int | None = None) -> DispatchResult:
    """Send every due message (beat, every few seconds)."""
    result = DispatchResult()
    limit = limit or settings.MEHR["NOTIFY_BATCH_SIZE"]
    while True:
        at = now or timezone.now()
        claimed = _claim(now=at, limit=limit)
        for message in claimed:
            _deliver(message, result, at)
        if len(claimed) < limit:
            return result


def notification_send(*, pk: int, now: datetime | None = None) -> DispatchResult:
    """Send one message now if it is still due (the on-commit fast path)."""
    result = DispatchResult()
    at = now or timezone.now()
    for message in _claim(now=at, limit=1, pk=pk):
        _deliver(message, result, at)
    return result


def _deliver(message: OutboxMessage, result: DispatchResult, now: datetime) -> None:
    started = time.monotonic()
    status_code: int | None = None
    excerpt = ""
    try:
        if message.channel == Channel.WEBHOOK:
            status_code, excerpt = _post_webhook(message)
            ok = 200 <= status_code < 300
            error = "" if ok else f"HTTP {status_code}"
        else:
            _send_email(message)
            ok, error = True, ""
    except Exception as exc:  # network errors, refused connections, SMTP failures
        ok, error = False, f"{type(exc).__name__}: {exc}"[:2000]
    duration = int((time.monotonic() - started) * 1000)
    _record(message, ok=ok, error=error, status_code=status_code, excerpt=excerpt, duration_ms=duration, now=now)
    if ok:
        result.sent += 1
    elif message.status == OutboxStatus.DEAD:
        result.dead += 1
    else:
        result.failed += 1


def webhook_destination_check(url: str) -> None:
    """Refuse destinations on loopback/private/link-local networks unless allowed (SSRF guard):
    the URL is typed by a User, the request leaves from inside DCC's network."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    if settings.MEHR.get("NOTIFY_WEBHOOK_ALLOW_PRIVATE"):
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("The webhook URL must be http(s) with a host.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for info in socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP):
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ValueError(f"The webhook host resolves to a non-public address ({address}); refused.")


def _post_webhook(message: OutboxMessage) -> tuple[int, str]:
    webhook_destination_check(message.destination)
    org_settings = NotificationSettings.objects.filter(organisation_id=message.organisation_id).first()
    secret = org_settings.webhook_secret if org_settings else ""
    if not secret:
        raise ValueError("The organisation has no webhook secret.")
    body = message_body(message)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mehr-webhooks/1",
        "X-Mehr-Event": message.event,
        "X-Mehr-Message-Id": str(message.message_id),
        "X-Mehr-Delivery-Attempt": str(message.attempts),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=timestamp, body=body),
    }
    response = requests.post(
        message.destination,
        data=body,
        headers=headers,
        timeout=settings.MEHR["NOTIFY_WEBHOOK_TIMEOUT_SECONDS"],
        allow_redirects=False,
    )
    return response.status_code, response.text[:500]


def _send_email(message: OutboxMessage) -> None:
    to = [a for a in message.destination.split(",") if a]
    EmailMessage(
        subject=message.subject,
        body=message.payload.get("text", ""),
        from_email=settings.MEHR["NOTIFY_EMAIL_FROM"],
        to=to,
        headers={"X-Mehr-Message-Id": str(message.message_id), "X-Mehr-Event": message.event},
    ).send(fail_silently=False)


def retry_delay(attempts: int) -> timedelta | None:
    """Delay before the next attempt after `attempts` failed ones; None when they are used up."""
    delays = settings.MEHR["NOTIFY_RETRY_DELAYS_SECONDS"]
    if attempts > len(delays):
        return None
    return timedelta(seconds=float(delays[attempts - 1]))


def _record(message: OutboxMessage, *, ok: bool, error: str, status_code: int | None, excerpt: str,
            duration_ms: int, now: datetime) -> None:
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            message=message, attempt=message.attempts, attempted_at=now, duration_ms=duration_ms, success=ok,
            status_code=status_code, error=error, response_excerpt=excerpt,
        )
        fields = ["status", "next_attempt_at", "last_error", "sent_at", "dead_at"]
        if ok:
            message.status = OutboxStatus.SENT
            message.sent_at = now
            message.last_error = ""
        else:
            message.last_error = error
            delay = retry_delay(message.attempts)
            if delay is None:
                message.status = OutboxStatus.DEAD
                message.dead_at = now
            else:
                message.next_attempt_at = now + delay
        message.save(update_fields=fields)
        if message.case_id and (ok or message.status == OutboxStatus.DEAD):
            channel = Channel(message.channel).label.lower()
            org = message.organisation.code if message.organisation_id else "?"
            event_record(
                case=Case.objects.get(pk=message.case_id),
                kind=EventKind.NOTIFICATION,
                actor=None,
                body=(
                    f"{NotificationEvent(message.event).label} sent to {org} by {channel}."
                    if ok
                    else f"{NotificationEvent(message.event).label} to {org} by {channel} failed "
                    f"{message.attempts} times and was dead-lettered: {error}"
                ),
                visibility=Visibility.SHARED if ok else Visibility.INTERNAL,
                data={"message_id": str(message.message_id), "channel": message.channel, "event": message.event,
                      "status": message.status, "attempts": message.attempts},
            )


def outbox_resend(*, message: OutboxMessage | int, actor: Any) -> OutboxMessage:
    """Put a dead-lettered (or sent) message back in the queue with a fresh retry budget."""
    if role_of(actor) not in (Role.DCC_MANAGER, Role.DCC_OPERATOR, Role.SYSTEM):
        raise NotPermitted("Only DCC staff resend notifications.")
    pk = message if isinstance(message, int) else message.pk
    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update().get(pk=pk)
        if locked.status == OutboxStatus.PENDING:
            raise ValidationFailed.field("status", "The message is still pending.")
        locked.status = OutboxStatus.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.dead_at = None
        locked.resent_at = timezone.now()
        locked.resent_by = actor
        locked.save()
        transaction.on_commit(lambda: _enqueue([locked.pk]))
    return locked


# --- preferences -----------------------------------------------------------------------------------
PREFERENCE_MANAGER_ROLES = frozenset({Role.USER_AGENT, Role.USER_INTEGRATION, Role.DCC_MANAGER})


def notification_preferences_get(*, organisation: Organisation) -> dict[str, Any]:
    prefs = {p.event: p for p in NotificationPreference.objects.filter(organisation=organisation)}
    row = NotificationSettings.objects.filter(organisation=organisation).first()
    return {
        "email_recipients": row.email_recipients if row else "",
        "webhook_url": row.webhook_url if row else "",
        "webhook_secret_set": bool(row and row.webhook_secret),
        "events": {
            e.value: {
                "label": e.label,
                "email": bool(prefs.get(e.value) and prefs[e.value].by_email),
                "webhook": bool(prefs.get(e.value) and prefs[e.value].by_webhook),
            }
            for e in NotificationEvent
        },
    }


def notification_preferences_set(
    *,
    organisation: Organisation,
    actor: Any,
    events: dict[str, dict[str, bool]],
    email_recipients: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> dict[str, Any]:
    """Replace an organisation's choices. Its own agents/systems (or a DCC manager) may do this."""
    role = role_of(actor)
    own = organisation_of(actor)
    if role not in PREFERENCE_MANAGER_ROLES or (role != Role.DCC_MANAGER and (own is None or own.pk != organisation.pk)):
        raise NotPermitted("You may not change this organisation's notifications.")
    errors: dict[str, list[str]] = {}
    unknown = set(events) - set(NotificationEvent.values)
    if unknown:
        errors["events"] = [f"Unknown event(s): {', '.join(sorted(unknown))}."]
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator, validate_email

    if webhook_url:
        try:
            URLValidator(schemes=["http", "https"])(webhook_url)
        except ValidationError:
            errors["webhook_url"] = ["Enter a valid http(s) URL."]
    if email_recipients:
        for address in NotificationSettings(email_recipients=email_recipients).email_list:
            try:
                validate_email(address)
            except ValidationError:
                errors.setdefault("email_recipients", []).append(f"{address!r} is not an email address.")
    if webhook_secret is not None and webhook_secret and len(webhook_secret) < 16:
        errors["webhook_secret"] = ["Use a secret of at least 16 characters."]
    wants_webhook = any(bool(v.get("webhook")) for v in events.values())
    with transaction.atomic():
        row, _ = NotificationSettings.objects.select_for_update().get_or_create(organisation=organisation)
        url = webhook_url if webhook_url is not None else row.webhook_url
        secret = webhook_secret if webhook_secret is not None else row.webhook_secret
        if wants_webhook and not url:
            errors.setdefault("webhook_url", []).append("A webhook URL is needed for webhook notifications.")
        if wants_webhook and not secret:
            errors.setdefault("webhook_secret", []).append("A shared secret is needed for webhook notifications.")
        if errors:
            raise ValidationFailed(errors=errors)
        if email_recipients is not None:
            row.email_recipients = email_recipients
        row.webhook_url = url
        row.webhook_secret = secret
        row.updated_at = timezone.now()
        row.save()
        for event, channels in events.items():
            NotificationPreference.objects.update_or_create(
                organisation=organisation,
                event=event,
                defaults={"by_email": bool(channels.get("email")), "by_webhook": bool(channels.get("webhook"))},
            )
    return notification_preferences_get(organisation=organisation)
