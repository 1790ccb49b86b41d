"""Exception-event ingestion: validate items, map identifiers and check codes to rows in bulk
(a constant number of queries per batch), then hand the valid events to case_raise_batch."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime

from cases.domain import Stage
from cases.models import Check, Device, Installation
from cases.models.cases import REFERENCE_PREFIX
from cases.services import RaiseItem, case_raise_batch
from cases.validators import normalise_eui64, validate_mpan, validate_mprn

STAGES = frozenset(Stage.values)
FIELDS = frozenset(
    {"source", "source_event_id", "check_code", "stage", "occurred_at", "detail", "mpan", "mprn", "device_id"}
)
MAX_DETAIL = 10_000


def max_batch() -> int:
    return int(settings.MEHR.get("API_INGEST_MAX_BATCH", 1000))


def _text(raw: Mapping[str, Any], name: str, errors: dict[str, list[str]], *, required: bool, max_length: int) -> str:
    value = raw.get(name)
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return ""
    if not isinstance(value, str):
        errors[name] = ["Not a valid string."]
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = ["This field may not be blank."]
    elif len(value) > max_length:
        errors[name] = [f"Ensure this field has no more than {max_length} characters."]
    elif "\x00" in value:
        errors[name] = ["Null characters are not allowed."]
    return value


def parse_event(raw: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Field-level validation of one event (the rules ExceptionEventSerializer documents)."""
    if not isinstance(raw, Mapping):
        return {}, {"non_field_errors": ["Each event is a JSON object."]}
    errors: dict[str, list[str]] = {}
    unknown = set(raw) - FIELDS
    for name in sorted(unknown):
        errors[str(name)] = ["Unknown field."]
    event: dict[str, Any] = {
        "source": _text(raw, "source", errors, required=True, max_length=40),
        "source_event_id": _text(raw, "source_event_id", errors, required=True, max_length=128),
        "check_code": _text(raw, "check_code", errors, required=True, max_length=16).upper(),
        "detail": _text(raw, "detail", errors, required=False, max_length=MAX_DETAIL),
    }
    stage = raw.get("stage")
    if stage is not None and (not isinstance(stage, str) or stage not in STAGES):
        errors["stage"] = [f"Choose one of {', '.join(sorted(STAGES))}."]
    event["stage"] = stage
    occurred = raw.get("occurred_at")
    occurred_at: datetime | None = None
    if not isinstance(occurred, str) or not occurred:
        errors["occurred_at"] = ["An ISO 8601 date-time with a time zone is required."]
    else:
        try:
            occurred_at = parse_datetime(occurred)
        except ValueError:
            occurred_at = None
        if occurred_at is None:
            errors["occurred_at"] = ["Not an ISO 8601 date-time."]
        elif occurred_at.tzinfo is None:
            errors["occurred_at"] = ["Give a time zone with the occurrence time."]
        else:
            try:  # PostgreSQL takes offsets up to ±15:59 only; store UTC
                occurred_at = occurred_at.astimezone(UTC)
            except OverflowError:
                errors["occurred_at"] = ["Not a representable date-time."]
    event["occurred_at"] = occurred_at
    mpan = _text(raw, "mpan", errors, required=False, max_length=13)
    mprn = _text(raw, "mprn", errors, required=False, max_length=10)
    device = _text(raw, "device_id", errors, required=False, max_length=23)
    for name, value, check in (("mpan", mpan, validate_mpan), ("mprn", mprn, validate_mprn)):
        if value and name not in errors:
            try:
                check(value)
            except DjangoValidationError as exc:
                errors[name] = list(exc.messages)
    if device and "device_id" not in errors:
        try:
            device = normalise_eui64(device)
        except DjangoValidationError as exc:
            errors["device_id"] = list(exc.messages)
    if not (mpan or mprn or device) and not ({"mpan", "mprn", "device_id"} & set(errors)):
        errors["installation"] = ["Identify the installation: mpan, mprn or device_id."]
    event.update(mpan=mpan, mprn=mprn, device_id=device)
    return event, errors


def ingest(events: list[Any], actor: Any) -> list[dict[str, Any]]:
    """Validate, resolve and raise; one result dict per event, in order."""
    parsed = [parse_event(raw) for raw in events]
    ok = [event for event, errors in parsed if not errors]

    # Bulk lookups: one query each for checks, MPANs, MPRNs and devices of the whole batch.
    checks = {
        c.code: c
        for c in Check.objects.select_related("introduced_in", "retired_in").filter(
            code__in={e["check_code"] for e in ok}
        )
    }
    mpans: dict[str, list[Installation]] = {}
    mprns: dict[str, list[Installation]] = {}
    devices: dict[str, Installation] = {}
    wanted = {name: {e[name] for e in ok if e[name]} for name in ("mpan", "mprn", "device_id")}
    fields = ("id", "cohort", "installation_type", "responsible_supplier_id", "mpan", "mprn")
    if wanted["mpan"]:
        for inst in Installation.objects.filter(mpan__in=wanted["mpan"]).only(*fields):
            mpans.setdefault(inst.mpan, []).append(inst)
    if wanted["mprn"]:
        for inst in Installation.objects.filter(mprn__in=wanted["mprn"]).only(*fields):
            mprns.setdefault(inst.mprn, []).append(inst)
    if wanted["device_id"]:
        for device in Device.objects.filter(eui64__in=wanted["device_id"]).select_related("installation").only(
            "eui64", *(f"installation__{f}" for f in fields)
        ):
            devices[device.eui64] = device.installation

    items: list[RaiseItem | None] = []
    results: list[dict[str, Any]] = []
    for index, (event, errors) in enumerate(parsed):
        result = {
            "index": index,
            "source": event.get("source") or None,
            "source_event_id": event.get("source_event_id") or None,
            "status": "invalid",
            "duplicate": False,
            "case": None,
            "errors": errors,
        }
        results.append(result)
        if errors:
            items.append(None)
            continue
        check = checks.get(event["check_code"])
        if check is None:
            errors["check_code"] = [f"No check {event['check_code']} in the catalogue."]
        installation = _resolve(event, mpans, mprns, devices, errors)
        if errors or installation is None or check is None:
            items.append(None)
            continue
        items.append(
            RaiseItem(
                installation=installation,
                check=check,
                source=event["source"],
                source_event_id=event["source_event_id"],
                occurred_at=event["occurred_at"],
                detail=event["detail"],
                stage=event["stage"],
            )
        )
    positions = [i for i, item in enumerate(items) if item is not None]
    outcomes = case_raise_batch(items=[items[i] for i in positions], actor=actor) if positions else []
    for index, outcome in zip(positions, outcomes, strict=True):
        result = results[index]
        if outcome.errors:
            result["errors"] = outcome.errors
            continue
        result["status"] = "created" if outcome.first_created else "added"
        result["duplicate"] = outcome.duplicate
        result["case"] = f"{REFERENCE_PREFIX}{outcome.case_id:06d}"  # Case.reference, without an instance
    return results


def _resolve(
    event: dict[str, Any],
    mpans: dict[str, list[Installation]],
    mprns: dict[str, list[Installation]],
    devices: dict[str, Installation],
    errors: dict[str, list[str]],
) -> Installation | None:
    """The one installation all the given identifiers point to, or an error."""
    found: dict[int, Installation] = {}
    for name, index in (("mpan", mpans), ("mprn", mprns)):
        value = event[name]
        if not value:
            continue
        matches = index.get(value, [])
        if not matches:
            errors[name] = [f"No installation with {name.upper()} {value}."]
        elif len(matches) > 1:
            errors[name] = [f"{len(matches)} installations have {name.upper()} {value}; identify it by device_id."]
        else:
            found.setdefault(matches[0].pk, matches[0])
    if event["device_id"]:
        installation = devices.get(event["device_id"])
        if installation is None:
            errors["device_id"] = [f"No device {event['device_id']}."]
        else:
            found.setdefault(installation.pk, installation)
    if errors:
        return None
    if len(found) > 1:
        errors["installation"] = ["The identifiers given belong to different installations."]
        return None
    return next(iter(found.values()))
