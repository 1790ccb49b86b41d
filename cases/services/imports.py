"""CSV import of exception events (MCC tooling, back-filling).

A dry run validates every row and says what each would do (open a case, add an occurrence to an
open case, or nothing because that event was already imported) without writing anything. The
real import validates the same way and then writes the whole file in one transaction through
``case_raise``: any error and nothing is written. Rows are keyed by (source, source_event_id), so
replaying a file creates nothing new.

Columns: source, source_event_id, check_code, occurred_at (ISO 8601 with an offset), one of
installation_id / mpan / mprn, and optionally stage and detail.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.domain import OPEN_STATES, Stage
from cases.errors import NotPermitted, ServiceError, ValidationFailed
from cases.models import Case, CaseOccurrence, Check, CsvImport, Installation
from cases.models.reports import ImportStatus
from cases.roles import role_of

from .raising import RAISING_ROLES, case_raise

REQUIRED_COLUMNS = ("source", "source_event_id", "check_code", "occurred_at")
INSTALLATION_COLUMNS = ("installation_id", "mpan", "mprn")
OPTIONAL_COLUMNS = ("stage", "detail")
CREATE, OCCURRENCE, DUPLICATE, ERROR = "create_case", "add_occurrence", "duplicate", "error"


@dataclass
class RowOutcome:
    line: int
    action: str
    source_event_id: str = ""
    check_code: str = ""
    installation_id: int | None = None
    case_reference: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "action": self.action, "source_event_id": self.source_event_id,
                "check_code": self.check_code, "installation_id": self.installation_id,
                "case_reference": self.case_reference, "errors": self.errors}


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[RowOutcome]
    file_errors: list[str] = field(default_factory=list)
    imported: CsvImport | None = None

    @property
    def ok(self) -> bool:
        return not self.file_errors and not any(r.action == ERROR for r in self.rows)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {a: self.count(a) for a in (CREATE, OCCURRENCE, DUPLICATE, ERROR)}

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "ok": self.ok, "written": bool(self.imported and self.ok and not self.dry_run),
                "counts": self.counts, "file_errors": self.file_errors,
                "rows": [r.as_dict() for r in self.rows],
                "import_id": self.imported.pk if self.imported else None}


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed.field("file", f"The file is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed


def _plan(text: str) -> tuple[list[RowOutcome], list[dict[str, Any]], list[str]]:
    """Validate every row; return outcomes, the cleaned rows to raise, and file-level errors."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    file_errors = []
    if missing:
        file_errors.append(f"Missing column(s): {', '.join(missing)}.")
    if not any(c in header for c in INSTALLATION_COLUMNS):
        file_errors.append(f"Give one of the columns {', '.join(INSTALLATION_COLUMNS)}.")
    unknown = [c for c in header if c not in (*REQUIRED_COLUMNS, *INSTALLATION_COLUMNS, *OPTIONAL_COLUMNS)]
    if unknown:
        file_errors.append(f"Unknown column(s): {', '.join(unknown)}.")
    if file_errors:
        return [], [], file_errors
    raw = list(reader)
    limit = settings.MEHR["IMPORT_MAX_ROWS"]
    if len(raw) > limit:
        return [], [], [f"The file has {len(raw)} rows; at most {limit} are imported at once."]
    if not raw:
        return [], [], ["The file has no rows."]

    # Look everything up in a few queries, not per row.
    def col(row: dict[str, Any], name: str) -> str:
        return (row.get(name) or "").strip()

    checks = {c.code: c for c in Check.objects.select_related("retired_in").filter(
        code__in={col(r, "check_code") for r in raw})}
    ids = {int(col(r, "installation_id")) for r in raw if col(r, "installation_id").isdigit()}
    mpans = {col(r, "mpan") for r in raw if col(r, "mpan")}
    mprns = {col(r, "mprn") for r in raw if col(r, "mprn")}
    by_id = {i.pk: i for i in Installation.objects.filter(pk__in=ids)}
    by_mpan: dict[str, list[Installation]] = {}
    for i in Installation.objects.filter(mpan__in=mpans):
        by_mpan.setdefault(i.mpan, []).append(i)
    by_mprn: dict[str, list[Installation]] = {}
    for i in Installation.objects.filter(mprn__in=mprns):
        by_mprn.setdefault(i.mprn, []).append(i)
    keys = {(col(r, "source"), col(r, "source_event_id")) for r in raw}
    seen_before = {
        (o.source, o.source_event_id): o.case
        for o in CaseOccurrence.objects.select_related("case").filter(
            source__in={k[0] for k in keys}, source_event_id__in={k[1] for k in keys})
    }
    now = timezone.now()
    outcomes: list[RowOutcome] = []
    cleaned: list[dict[str, Any]] = []
    in_file: dict[tuple[str, str], int] = {}
    opened: dict[tuple[int, int], bool] = {}  # (installation, check) opened earlier in this file
    for line, row in enumerate(raw, start=2):
        errors: dict[str, list[str]] = {}
        source, event_id, code = col(row, "source"), col(row, "source_event_id"), col(row, "check_code")
        outcome = RowOutcome(line=line, action=ERROR, source_event_id=event_id, check_code=code)
        outcomes.append(outcome)
        if not source or len(source) > 40:
            errors["source"] = ["A source system of at most 40 characters is required."]
        if not event_id or len(event_id) > 128:
            errors["source_event_id"] = ["A source event id of at most 128 characters is required."]
        if (source, event_id) in in_file:
            errors["source_event_id"] = [f"Repeats line {in_file[(source, event_id)]} of this file."]
        in_file.setdefault((source, event_id), line)
        check = checks.get(code)
        if check is None:
            errors["check_code"] = [f"Unknown check {code!r}." if code else "A check code is required."]
        occurred_at = _parse_time(col(row, "occurred_at"))
        if occurred_at is None:
            errors["occurred_at"] = ["Use an ISO 8601 time, e.g. 2026-11-27T14:03:00+00:00."]
        elif timezone.is_naive(occurred_at):
            errors["occurred_at"] = ["Give a time zone with the occurrence time."]
            occurred_at = None
        elif occurred_at > now + timezone.timedelta(minutes=5):
            errors["occurred_at"] = ["The occurrence time is in the future."]
        stage = col(row, "stage") or None
        if stage and stage not in Stage.values:
            errors["stage"] = [f"Unknown stage {stage!r}."]
        installation, problem = _installation(col(row, "installation_id"), col(row, "mpan"), col(row, "mprn"),
                                              by_id, by_mpan, by_mprn)
        if problem:
            errors["installation"] = [problem]
        if installation is not None and check is not None:
            outcome.installation_id = installation.pk
            if not check.applies_to(installation.cohort):
                errors["check_code"] = [f"Check {code} does not apply to cohort {installation.cohort}."]
            elif occurred_at is not None and check.is_retired(on=occurred_at.date()):
                errors["check_code"] = [f"Check {code} was retired in MEHR {check.retired_in.version}."]
        if errors:
            outcome.errors = errors
            continue
        assert installation is not None and check is not None and occurred_at is not None
        previous = seen_before.get((source, event_id))
        if previous is not None:
            outcome.action, outcome.case_reference = DUPLICATE, previous.reference
            continue
        key = (installation.pk, check.pk)
        if key not in opened:
            opened[key] = Case.objects.filter(installation=installation, check_type=check,
                                              state__in=OPEN_STATES).exists()
        outcome.action = OCCURRENCE if opened[key] else CREATE
        opened[key] = True
        cleaned.append({"installation": installation, "check": check, "source": source, "source_event_id": event_id,
                        "occurred_at": occurred_at, "stage": stage, "detail": col(row, "detail"), "outcome": outcome})
    return outcomes, cleaned, []


def _installation(
    pk: str, mpan: str, mprn: str, by_id: dict[int, Installation], by_mpan: dict[str, list[Installation]],
    by_mprn: dict[str, list[Installation]],
) -> tuple[Installation | None, str]:
    if pk:
        if not pk.isdigit() or int(pk) not in by_id:
            return None, f"No installation {pk}."
        return by_id[int(pk)], ""
    for value, index, name in ((mpan, by_mpan, "MPAN"), (mprn, by_mprn, "MPRN")):
        if value:
            found = index.get(value, [])
            if len(found) == 1:
                return found[0], ""
            return None, f"No installation with {name} {value}." if not found else \
                f"{len(found)} installations have {name} {value}; give installation_id."
    return None, "Give installation_id, mpan or mprn."


def exception_events_import(*, content: bytes | str, actor: Any, dry_run: bool, file_name: str = "") -> ImportReport:
    """Dry-run or import a CSV of exception events; all-or-nothing, idempotent on replay."""
    if role_of(actor) not in RAISING_ROLES:
        raise NotPermitted("Only DCC and its systems import exception events.")
    text = _decode(content)
    outcomes, cleaned, file_errors = _plan(text)
    report = ImportReport(dry_run=dry_run, rows=outcomes, file_errors=file_errors)
    if dry_run:
        return report
    digest = hashlib.sha256(text.encode()).hexdigest()
    if not report.ok:
        report.imported = _store(actor, file_name, digest, ImportStatus.REJECTED, report)
        return report
    try:
        with transaction.atomic():
            for row in cleaned:
                outcome: RowOutcome = row.pop("outcome")
                result = case_raise(actor=actor, **row)
                outcome.case_reference = result.case.reference
                outcome.action = DUPLICATE if result.duplicate else CREATE if result.created else OCCURRENCE
            report.imported = _store(actor, file_name, digest, ImportStatus.IMPORTED, report)
    except ServiceError as exc:
        # A row failed on the way in (e.g. a concurrent change): nothing of the file was written.
        failing = next((r for r in outcomes if not r.case_reference and r.action != DUPLICATE), None)
        if failing is not None:
            failing.action, failing.errors = ERROR, exc.errors or {"row": [exc.message]}
        for r in outcomes:
            if r.action != ERROR:
                r.case_reference = "" if r.action != DUPLICATE else r.case_reference
        report.imported = _store(actor, file_name, digest, ImportStatus.REJECTED, report)
    return report


def _store(actor: Any, file_name: str, digest: str, status: str, report: ImportReport) -> CsvImport:
    counts = report.counts
    return CsvImport.objects.create(
        uploaded_by=actor if getattr(actor, "pk", None) else None,
        file_name=file_name[:255],
        sha256=digest,
        status=status,
        rows=len(report.rows),
        cases_created=counts[CREATE] if status == ImportStatus.IMPORTED else 0,
        occurrences_added=counts[OCCURRENCE] if status == ImportStatus.IMPORTED else 0,
        duplicates=counts[DUPLICATE],
        errors=report.file_errors + [
            {"line": r.line, "errors": r.errors} for r in report.rows if r.action == ERROR
        ][:1000],
    )
