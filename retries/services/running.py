"""Running a claimed session attempt and turning outcomes into the next step.

    claimed ──task with the claim token──▶ RUNNING ──S1SP──▶ CONNECTED │ FAILED │ TIMED_OUT
                                                                │            └─ next attempt in the
                                                                │               window, or the window fails
                                                                └─ later stages (simulated) → migrated /
                                                                   partial / failed at a later stage

The S1SP is called outside any transaction; the row is RUNNING while it is, so neither a duplicate
message nor the reaper (until the lease expires) can start it again.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases.domain import (
    OPEN_STATES,
    CaseState,
    Category,
    ExcludedCategory,
    InstallationType,
    MigrationStatus,
    Stage,
)
from cases.models import Case, Check, Installation

from .. import sql
from ..models import (
    AttemptKind,
    MigrationAttempt,
    MigrationOutcome,
    PauseScope,
    RetryPause,
    RetryPolicy,
    SessionAttempt,
    SessionState,
)
from ..policies import attempts_exhausted, next_session_due
from ..s1sp import SessionResult, SessionStatus, get_s1sp_client
from ..signals import migration_finished
from .common import driven_cases, fire, lock_installation, raise_failure, record_on_cases
from .scheduling import reschedule_after, sms_used

logger = logging.getLogger("retries")

#: Window failure check per attempt kind: no WAN while attempting migration / dormant firmware upgrade.
WINDOW_FAILURE_CHECK = {AttemptKind.MIGRATION: "CM001", AttemptKind.FIRMWARE_UPGRADE: "PM004"}
#: Failures the engine reschedules by itself; anything else is handed to the case's owner.
AUTO_RESCHEDULE_CATEGORIES = (Category.COMMUNICATIONS,)
AUTO_RESCHEDULE_CHECKS = ("PM001", "PM004")
#: Stages before the credentials switch: a failure there rolls the installation back to the SMSO.
BEFORE_CREDENTIALS = (Stage.PRE_MIGRATION, Stage.COMMUNICATIONS, Stage.DATA_VALIDATION)


# --- the hot path in few round trips ----------------------------------------------------------
#
# One session attempt used to cost about 20 statements through the ORM. The common cases are now
# single SQL statements (data-modifying CTEs) whose WHERE clauses carry the same guarantees the
# locked read-then-write had: only the row CLAIMED with this token starts (a duplicate delivery
# matches nothing), only a RUNNING row with this token is recorded (a reaped one keeps its verdict),
# the migration attempt is locked by its own UPDATE, and everything that needs the case services
# (start_retry, resolve, failing a window, raising a case) takes the ORM path below in the same
# transaction. Lock order is unchanged: session attempt, migration attempt, installation, cases.
# The state tests are written lower(state) = '…' on purpose: with state = 'CLAIMED' PostgreSQL may
# pick the partial lease index (its predicate is implied) over the primary key, and that index is
# full of dead entries under churn (89 ms instead of 0.1 ms, seen on the 2M-row benchmark).


def _cols(model, alias: str) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    names = [f.attname for f in model._meta.concrete_fields]
    sql = ", ".join(f'{alias}."{f.column}"' for f in model._meta.concrete_fields)
    return names, sql


_INSTALLATION_NAMES, _INSTALLATION_SQL = _cols(Installation, "i")
_MIGRATION_NAMES, _MIGRATION_SQL = _cols(MigrationAttempt, "m")
_POLICY_NAMES, _POLICY_SQL = _cols(RetryPolicy, "p")

_M2M = MigrationAttempt.cases.through._meta.db_table

#: Open cases this migration attempt would drive (see common.driven_cases): a superset is fine,
#: it only sends the attempt down the ORM path.
_HAS_CASES = f"""(
    EXISTS (SELECT 1 FROM cases_case c WHERE c.installation_id = {{inst}} AND c.state = ANY(%(open_states)s))
    OR EXISTS (SELECT 1 FROM {_M2M} mc JOIN cases_case c ON c.id = mc.case_id
               WHERE mc.migrationattempt_id = {{mig}} AND c.state = ANY(%(open_states)s))
)"""

_START_SQL = f"""
WITH s AS (
    UPDATE retries_sessionattempt s
       SET state = 'RUNNING', started_at = %(now)s, worker = %(worker)s,
           lease_expires_at = %(now)s + make_interval(secs => s.timeout_seconds + %(grace)s)
      FROM retries_migrationattempt m
     WHERE s.id = %(id)s AND lower(s.state) = 'claimed' AND s.claim_token = %(token)s
       AND m.id = s.migration_attempt_id AND m.outcome IN ('SCHEDULED', 'IN_PROGRESS') AND m.window_end > %(now)s
       AND NOT EXISTS (
           SELECT 1 FROM retries_retrypause p
            WHERE p.is_active AND (p.scope = 'GLOBAL' OR (p.scope = 'COHORT' AND p.cohort = s.cohort)
                  OR (p.scope = 'INSTALLATION' AND p.installation_id = s.installation_id)))
       AND (m.outcome = 'IN_PROGRESS' OR NOT {_HAS_CASES.format(inst="s.installation_id", mig="m.id")})
    RETURNING s.id, s.installation_id, s.timeout_seconds, s.policy_id, m.id AS migration_id,
              m.outcome AS migration_outcome
), m AS (
    UPDATE retries_migrationattempt m
       SET outcome = 'IN_PROGRESS', started_at = %(now)s,
           stage_reached = CASE WHEN m.kind = 'FIRMWARE_UPGRADE' THEN %(pre_migration)s ELSE %(communications)s END
      FROM s
     WHERE m.id = s.migration_id AND s.migration_outcome = 'SCHEDULED' AND m.outcome = 'SCHEDULED'
    RETURNING m.installation_id
), i AS (
    UPDATE cases_installation i SET migration_status = 'IN_PROGRESS', updated_at = %(now)s
      FROM m
     WHERE i.id = m.installation_id AND i.migration_status <> 'PARTIALLY_MIGRATED'
)
SELECT s.timeout_seconds, p.wake_sms_per_attempt, {_INSTALLATION_SQL}
  FROM s JOIN retries_retrypolicy p ON p.id = s.policy_id JOIN cases_installation i ON i.id = s.installation_id
"""


def _as_uuid(token: object) -> uuid.UUID | None:
    try:
        return token if isinstance(token, uuid.UUID) else uuid.UUID(str(token))
    except ValueError:
        return None


def _start_fast(*, attempt_id: int, claim_token: str, worker: str, now: datetime) -> tuple[Installation, int, int] | None:
    """Mark the attempt RUNNING in one statement (autocommit: the statement is the transaction).

    Returns (installation, timeout, wake SMS) when it started, or None when anything needs the
    ORM path (not claimed by this token, paused, migration closed or its window over, or a first
    attempt whose window drives cases)."""
    token = _as_uuid(claim_token)
    if token is None or connection.vendor != "postgresql":
        return None  # other databases (make run's SQLite) take the ORM path
    try:
        rows = sql.execute(
            _START_SQL,
            {
                "id": attempt_id,
                "token": token,
                "now": now,
                "worker": worker[:200],
                "grace": int(settings.MEHR["RETRY_RUN_LEASE_GRACE_SECONDS"]),
                "open_states": list(OPEN_STATES),
                "pre_migration": Stage.PRE_MIGRATION,
                "communications": Stage.COMMUNICATIONS,
            },
        )
    except OperationalError:
        # A deadlock with a concurrent cancel (rolled back: the ORM path decides), or the connection
        # broke. If it broke after the commit the row is RUNNING, the ORM path finds it "not claimed"
        # and the reaper times it out at the lease: the S1SP was not called, so nothing ran twice.
        return None
    if not rows:
        return None
    row = rows[0]
    installation = Installation.from_db(connection.alias, _INSTALLATION_NAMES, row[2:])
    return installation, row[0], row[1]


_RECORD_SQL = f"""
WITH s AS (
    UPDATE retries_sessionattempt
       SET state = %(state)s, finished_at = %(now)s, lease_expires_at = NULL, result_code = %(code)s,
           result_detail = %(detail)s, sms_sent = %(sms)s
     WHERE id = %(id)s AND lower(state) = 'running' AND claim_token = %(token)s
    RETURNING id, migration_attempt_id, installation_id, cohort, number, sms_sent
), m AS (
    UPDATE retries_migrationattempt m SET sms_sent = m.sms_sent + s.sms_sent
      FROM s
     WHERE m.id = s.migration_attempt_id
    RETURNING m.*
)
SELECT s.number, s.cohort,
       s.sms_sent + (SELECT coalesce(sum(x.sms_sent), 0) FROM retries_sessionattempt x
                      WHERE x.installation_id = s.installation_id AND x.id <> s.id) AS sms_used,
       {_HAS_CASES.format(inst="s.installation_id", mig="m.id")} AS has_cases,
       {_MIGRATION_SQL}, {_POLICY_SQL}
  FROM s JOIN m ON m.id = s.migration_attempt_id JOIN retries_retrypolicy p ON p.id = m.policy_id
"""

_MIGRATED_SQL = """
WITH m AS (
    UPDATE retries_migrationattempt
       SET outcome = %(succeeded)s, stage_reached = %(commissioning)s, finished_at = %(now)s, detail = %(detail)s
     WHERE id = %(migration)s
)
UPDATE cases_installation
   SET migration_status = %(migrated)s, updated_at = %(now)s,
       migrated_at = coalesce(migrated_at, %(now)s)  -- the first migration is the one reports count
 WHERE id = %(installation)s
"""

_NEXT_ATTEMPT_SQL = """
INSERT INTO retries_sessionattempt
    (migration_attempt_id, installation_id, cohort, number, due_at, state, claims, timeout_seconds,
     result_code, result_detail, sms_sent, worker, policy_id, policy_revision)
VALUES (%(migration)s, %(installation)s, %(cohort)s, %(number)s, %(due)s, 'SCHEDULED', 0, %(timeout)s,
        '', '', 0, '', %(policy)s, %(revision)s)
"""


def _record_fast(*, attempt_id: int, claim_token: str, result: SessionResult) -> str:
    """Record the outcome and take the next step in one transaction (caller retries deadlocks)."""
    now = timezone.now()
    if result.status == SessionStatus.CONNECTED:
        state = SessionState.CONNECTED
    elif result.status == SessionStatus.NO_RESPONSE:
        state = SessionState.TIMED_OUT
    else:
        state = SessionState.FAILED
    token = _as_uuid(claim_token)
    if token is None:
        return "stale"
    with transaction.atomic():
        recorded = (_record_statement if connection.vendor == "postgresql" else _record_portable)(
            attempt_id=attempt_id, token=token, state=state, now=now, result=result
        )
        if recorded is None:
            # The reaper already timed it out (the worker overran its lease): keep its verdict.
            logger.warning("retry engine: result for session attempt %s arrived after its lease", attempt_id)
            return "stale"
        number, cohort, sms_used_total, has_cases, migration = recorded
        policy = migration.policy
        if not migration.is_open:
            return state  # cancelled meanwhile: the result is recorded on the session attempt only
        if result.status == SessionStatus.CONNECTED:
            if migration.kind == AttemptKind.MIGRATION and not result.later_stage_check and not has_cases:
                migration.outcome, migration.stage_reached = MigrationOutcome.SUCCEEDED, Stage.COMMISSIONING
                migration.finished_at, migration.detail = now, "Migrated."
                _migration_succeeded(migration, now)
                migration_finished.send(sender=MigrationAttempt, attempt=migration)
            else:
                _migration_connected(migration, result, now)
            return state
        budget_left = policy.sms_budget_per_installation - sms_used_total
        due = next_session_due(
            policy,
            window_end_at=migration.window_end,
            failed_number=number,
            finished_at=now,
            rng=random.Random(f"{attempt_id}:{number}"),
        )
        if due is not None and budget_left >= policy.wake_sms_per_attempt:
            _schedule_next(migration, cohort=cohort, number=number + 1, due=due)
            return state
        _window_exhausted(migration, budget_spent=budget_left < policy.wake_sms_per_attempt, now=now)
        return state


RecordedRow = tuple[int, str, int, bool, MigrationAttempt]


def _record_statement(
    *, attempt_id: int, token: uuid.UUID, state: str, now: datetime, result: SessionResult
) -> RecordedRow | None:
    """Record the outcome in one statement: (number, cohort, SMS used by the installation, whether
    cases are involved, the migration attempt with its policy), or None when the row is no longer
    RUNNING with this token."""
    rows = sql.execute(
        _RECORD_SQL,
        {
            "id": attempt_id,
            "token": token,
            "state": state,
            "now": now,
            "code": (result.code or "")[:40],
            "detail": result.detail or "",
            "sms": result.sms_sent,
            "open_states": list(OPEN_STATES),
        },
    )
    if not rows:
        return None
    row = rows[0]
    cut = 4 + len(_MIGRATION_NAMES)
    migration = MigrationAttempt.from_db(connection.alias, _MIGRATION_NAMES, row[4:cut])
    migration.policy = RetryPolicy.from_db(connection.alias, _POLICY_NAMES, row[cut:])
    return row[0], row[1], row[2], row[3], migration


def _record_portable(
    *, attempt_id: int, token: uuid.UUID, state: str, now: datetime, result: SessionResult
) -> RecordedRow | None:
    """``_record_statement`` through the ORM, for databases other than PostgreSQL (make run's SQLite)."""
    attempt = (
        SessionAttempt.objects.select_for_update()
        .filter(pk=attempt_id, state=SessionState.RUNNING, claim_token=token)
        .first()
    )
    if attempt is None:
        return None
    _finish(attempt, state=state, code=result.code, detail=result.detail, sms=result.sms_sent, now=now)
    MigrationAttempt.objects.filter(pk=attempt.migration_attempt_id).update(sms_sent=F("sms_sent") + attempt.sms_sent)
    migration = MigrationAttempt.objects.select_related("policy").get(pk=attempt.migration_attempt_id)
    has_cases = Case.objects.filter(
        Q(installation_id=attempt.installation_id) | Q(migration_attempts=migration), state__in=OPEN_STATES
    ).exists()
    return attempt.number, attempt.cohort, sms_used(attempt.installation_id), has_cases, migration


def _migration_succeeded(migration: MigrationAttempt, now: datetime) -> None:
    """Save the succeeded migration attempt (outcome, stage, finish, detail) and mark its installation
    migrated; the first migration is the one reports count (migrated_at is kept)."""
    params = {
        "succeeded": migration.outcome,
        "commissioning": migration.stage_reached,
        "now": now,
        "detail": migration.detail,
        "migration": migration.pk,
        "migrated": MigrationStatus.MIGRATED,
        "installation": migration.installation_id,
    }
    if connection.vendor == "postgresql":
        sql.execute(_MIGRATED_SQL, params)
        return
    MigrationAttempt.objects.filter(pk=migration.pk).update(
        outcome=migration.outcome, stage_reached=migration.stage_reached, finished_at=now, detail=migration.detail
    )
    Installation.objects.filter(pk=migration.installation_id).update(
        migration_status=MigrationStatus.MIGRATED, updated_at=now, migrated_at=Coalesce("migrated_at", Value(now))
    )


def _schedule_next(migration: MigrationAttempt, *, cohort: str, number: int, due: datetime) -> None:
    """The next session attempt of the window."""
    policy = migration.policy
    if connection.vendor != "postgresql":
        SessionAttempt.objects.create(
            migration_attempt=migration, installation_id=migration.installation_id, cohort=cohort, number=number,
            due_at=due, timeout_seconds=policy.session_timeout_seconds, policy=policy, policy_revision=policy.revision,
        )  # fmt: skip
        return
    sql.execute(
        _NEXT_ATTEMPT_SQL,
        {
            "migration": migration.pk,
            "installation": migration.installation_id,
            "cohort": cohort,
            "number": number,
            "due": due,
            "timeout": policy.session_timeout_seconds,
            "policy": policy.pk,
            "revision": policy.revision,
        },
    )


def _is_paused(attempt: SessionAttempt) -> bool:
    return RetryPause.objects.filter(
        Q(scope=PauseScope.GLOBAL)
        | Q(scope=PauseScope.COHORT, cohort=attempt.cohort)
        | Q(scope=PauseScope.INSTALLATION, installation_id=attempt.installation_id),
        is_active=True,
    ).exists()


def session_attempt_run(*, attempt_id: int, claim_token: str, worker: str = "", client=None) -> str:  # type: ignore[no-untyped-def]
    """Run one claimed attempt. Returns what happened: the final state, or why nothing was done."""
    now = timezone.now()
    started = _start_fast(attempt_id=attempt_id, claim_token=claim_token, worker=worker, now=now)
    if started is not None:
        installation, timeout_seconds, wake_sms = started
        result = _call_s1sp(
            client, installation, attempt_id=attempt_id, timeout=timeout_seconds, wake_sms=wake_sms
        )
        return session_attempt_record(attempt_id=attempt_id, claim_token=claim_token, result=result)
    return _run_slow(attempt_id=attempt_id, claim_token=claim_token, worker=worker, client=client, now=now)


def _run_slow(*, attempt_id: int, claim_token: str, worker: str, client, now: datetime) -> str:  # type: ignore[no-untyped-def]
    """Every case the one-statement start does not cover: not claimed by this token (duplicate
    delivery), paused, migration closed, window closed, or the first attempt of a window that drives
    cases (``start_retry`` and a RETRY event through the case services)."""
    with transaction.atomic():
        attempt = (
            SessionAttempt.objects.select_for_update(of=("self",))
            .select_related("installation", "policy")
            .filter(pk=attempt_id)
            .first()
        )
        if attempt is None:
            return "missing"
        if attempt.state != SessionState.CLAIMED or str(attempt.claim_token) != str(claim_token):
            # A duplicate delivery, a stale claim, or an attempt already run: never run twice.
            return "not-claimed"
        if _is_paused(attempt):
            # Paused after the claim: put it back; it runs when the pause is lifted.
            attempt.state, attempt.claim_token, attempt.lease_expires_at = SessionState.SCHEDULED, None, None
            attempt.save(update_fields=["state", "claim_token", "lease_expires_at"])
            return "paused"
        migration = MigrationAttempt.objects.select_for_update().get(pk=attempt.migration_attempt_id)
        if not migration.is_open:
            attempt.state, attempt.finished_at, attempt.lease_expires_at = SessionState.CANCELLED, now, None
            attempt.result_code = "MIGRATION_CLOSED"
            attempt.save(update_fields=["state", "finished_at", "lease_expires_at", "result_code"])
            return "cancelled"
        if now >= migration.window_end:
            # Due inside the window but not run in it (retries were paused, or workers were down).
            attempt.state, attempt.finished_at, attempt.lease_expires_at = SessionState.CANCELLED, now, None
            attempt.result_code = "WINDOW_CLOSED"
            attempt.save(update_fields=["state", "finished_at", "lease_expires_at", "result_code"])
            _window_closed(migration, now)
            return "window-closed"
        grace = int(settings.MEHR["RETRY_RUN_LEASE_GRACE_SECONDS"])
        attempt.state = SessionState.RUNNING
        attempt.started_at = now
        attempt.lease_expires_at = now + timedelta(seconds=attempt.timeout_seconds + grace)
        attempt.worker = worker[:200]
        attempt.save(update_fields=["state", "started_at", "lease_expires_at", "worker"])
        if migration.outcome == MigrationOutcome.SCHEDULED:
            _migration_start(migration, now)

    result = _call_s1sp(
        client,
        attempt.installation,
        attempt_id=attempt_id,
        timeout=attempt.timeout_seconds,
        wake_sms=attempt.policy.wake_sms_per_attempt,
    )
    return session_attempt_record(attempt_id=attempt_id, claim_token=claim_token, result=result)


def _call_s1sp(client, installation: Installation, *, attempt_id: int, timeout: int, wake_sms: int) -> SessionResult:  # type: ignore[no-untyped-def]
    """Call the S1SP outside any transaction; every exception becomes a result."""
    client = client or get_s1sp_client()
    try:
        return client.establish_session(
            installation, timeout=timeout, idempotency_key=f"mehr-session-{attempt_id}", wake_sms=wake_sms
        )
    except Exception as exc:  # SoftTimeLimitExceeded included: the per-attempt limit fired
        from celery.exceptions import SoftTimeLimitExceeded

        if isinstance(exc, SoftTimeLimitExceeded):
            return SessionResult(SessionStatus.NO_RESPONSE, code="SOFT_TIME_LIMIT", detail="Celery soft time limit.")
        logger.exception("retry engine: S1SP client failed for session attempt %s", attempt_id)
        return SessionResult(SessionStatus.ERROR, code="CLIENT_ERROR", detail=f"{type(exc).__name__}: {exc}"[:500])


def session_attempt_record(*, attempt_id: int, claim_token: str, result: SessionResult) -> str:
    """Record the S1SP's answer for a running attempt and take the next step (retrying a deadlock)."""
    for retry in range(5):
        try:
            return _record_fast(attempt_id=attempt_id, claim_token=claim_token, result=result)
        except OperationalError:
            # A deadlock with a concurrent case change: PostgreSQL aborted us; try again.
            if retry == 4:
                raise
            time.sleep(0.05 * (retry + 1))
    return "unreachable"


def _finish(attempt: SessionAttempt, *, state: str, code: str, detail: str, sms: int, now: datetime) -> None:
    attempt.state = state
    attempt.finished_at = now
    attempt.lease_expires_at = None
    attempt.result_code = (code or "")[:40]
    attempt.result_detail = detail or ""
    attempt.sms_sent = sms
    attempt.save(
        update_fields=["state", "finished_at", "lease_expires_at", "result_code", "result_detail", "sms_sent"]
    )


def _migration_start(migration: MigrationAttempt, now: datetime) -> None:
    migration.outcome = MigrationOutcome.IN_PROGRESS
    migration.started_at = now
    migration.stage_reached = Stage.PRE_MIGRATION if migration.kind == AttemptKind.FIRMWARE_UPGRADE else Stage.COMMUNICATIONS
    migration.save(update_fields=["outcome", "started_at", "stage_reached"])
    Installation.objects.filter(pk=migration.installation_id).exclude(
        migration_status=MigrationStatus.PARTIALLY_MIGRATED
    ).update(migration_status=MigrationStatus.IN_PROGRESS, updated_at=now)
    cases = driven_cases(migration)
    for case in cases:
        if case.state == CaseState.RETRY_SCHEDULED:
            fire(case, "start_retry", note=f"Migration attempt {migration.number} started.")
    record_on_cases(
        cases,
        body=f"{migration.get_kind_display()} attempt {migration.number} started: first session attempt running.",
        data={"migration_attempt": migration.pk, "number": migration.number},
    )


def after_session(attempt: SessionAttempt, *, result: SessionResult, now: datetime) -> None:
    """The next step after a finished session attempt (caller holds the attempt's lock)."""
    migration = MigrationAttempt.objects.select_for_update().select_related("policy", "installation").get(
        pk=attempt.migration_attempt_id
    )
    migration.sms_sent += attempt.sms_sent
    if not migration.is_open or result.status != SessionStatus.CONNECTED:
        # (A connected attempt saves sms_sent with the migration's outcome: one statement fewer.)
        MigrationAttempt.objects.filter(pk=migration.pk).update(sms_sent=F("sms_sent") + attempt.sms_sent)
    if not migration.is_open:
        return  # cancelled meanwhile: the result is recorded on the session attempt only
    if result.status == SessionStatus.CONNECTED:
        _migration_connected(migration, result, now)
        return
    policy = migration.policy
    budget_left = policy.sms_budget_per_installation - sms_used(migration.installation)
    due = next_session_due(
        policy,
        window_end_at=migration.window_end,
        failed_number=attempt.number,
        finished_at=now,
        rng=random.Random(f"{attempt.pk}:{attempt.number}"),
    )
    if due is not None and budget_left >= policy.wake_sms_per_attempt:
        SessionAttempt.objects.create(
            migration_attempt=migration,
            installation_id=migration.installation_id,
            cohort=attempt.cohort,
            number=attempt.number + 1,
            due_at=due,
            timeout_seconds=policy.session_timeout_seconds,
            policy=policy,
            policy_revision=policy.revision,
        )
        return
    _window_exhausted(migration, budget_spent=budget_left < policy.wake_sms_per_attempt, now=now)


def _window_exhausted(migration: MigrationAttempt, *, budget_spent: bool, now: datetime) -> None:
    """No session attempt left in the window (or no SMS budget): the window fails."""
    reason = "SMS budget used up" if budget_spent else "session attempts in the window exhausted"
    _migration_failed(
        migration,
        check_code=WINDOW_FAILURE_CHECK[AttemptKind(migration.kind)],
        stage=migration.stage_reached or Stage.COMMUNICATIONS,
        detail=f"No session with the CH: {reason}. {_summary(migration)}",
        now=now,
        budget_spent=budget_spent,
    )


def _window_closed(migration: MigrationAttempt, now: datetime) -> None:
    """The window closed with an attempt still to run. If attempts ran in it, it failed like any other
    window; if none did (e.g. the kill switch was on all day), nothing was tried: it is replaced by the
    next window without counting a failed migration attempt."""
    if migration.session_attempts.filter(started_at__isnull=False).exists():
        _migration_failed(
            migration,
            check_code=WINDOW_FAILURE_CHECK[AttemptKind(migration.kind)],
            stage=migration.stage_reached or Stage.COMMUNICATIONS,
            detail=f"No session with the CH: the window closed. {_summary(migration)}",
            now=now,
        )
        return
    cases = driven_cases(migration)
    migration.outcome, migration.finished_at = MigrationOutcome.CANCELLED, now
    migration.detail = "The window closed before any session attempt ran (retries paused or no worker)."
    migration.save(update_fields=["outcome", "finished_at", "detail"])
    record_on_cases(
        cases,
        body=f"{migration.get_kind_display()} attempt {migration.number}: {migration.detail} Not counted; rescheduled.",
        data={"migration_attempt": migration.pk, "outcome": migration.outcome},
    )
    reschedule_after(attempt=migration, failed_at=now, cases=cases, kind=migration.kind)


def _summary(migration: MigrationAttempt) -> str:
    parts = [
        f"#{n} {state.lower()}{f' ({code})' if code else ''}"
        for n, state, code in migration.session_attempts.order_by("number").values_list("number", "state", "result_code")
    ]
    return "Session attempts: " + ", ".join(parts) + "."


def _mark_migrated(installation, now: datetime) -> None:  # type: ignore[no-untyped-def]
    # The first migration (electricity-only counts: it joined the DCC network) is the one reports
    # count; a later full migration after a gas fix does not move it, so a report regenerated
    # later still counts the installation on the same day.
    if installation.migrated_at is None:
        installation.migrated_at = now


def _migration_connected(migration: MigrationAttempt, result: SessionResult, now: datetime) -> None:
    installation = lock_installation(migration.installation_id)
    if migration.kind == AttemptKind.FIRMWARE_UPGRADE:
        migration.outcome, migration.finished_at, migration.stage_reached = MigrationOutcome.SUCCEEDED, now, Stage.PRE_MIGRATION
        migration.detail = "Firmware upgraded."
        migration.save(update_fields=["outcome", "finished_at", "stage_reached", "detail", "sms_sent"])
        cases = driven_cases(migration)
        record_on_cases(
            cases,
            body=f"Firmware upgrade attempt {migration.number} succeeded; migration follows.",
            data={"migration_attempt": migration.pk, "outcome": migration.outcome},
        )
        migration_finished.send(sender=MigrationAttempt, attempt=migration)
        reschedule_after(
            attempt=migration,
            failed_at=now,
            cases=cases,
            kind=AttemptKind.MIGRATION,
            delay_working_days=migration.policy.migration_after_firmware_working_days,
        )
        return

    later = result.later_stage_check
    if not later:
        migration.outcome, migration.stage_reached = MigrationOutcome.SUCCEEDED, Stage.COMMISSIONING
        migration.finished_at, migration.detail = now, "Migrated."
        migration.save(update_fields=["outcome", "finished_at", "stage_reached", "detail", "sms_sent"])
        installation.migration_status = MigrationStatus.MIGRATED
        _mark_migrated(installation, now)
        installation.save(update_fields=["migration_status", "migrated_at", "updated_at"])
        cases = driven_cases(migration)
        record_on_cases(
            cases,
            body=f"Migration attempt {migration.number} succeeded: the installation migrated.",
            data={"migration_attempt": migration.pk, "outcome": migration.outcome},
        )
        for case in cases:
            fire(case, "resolve", note=f"Migrated on attempt {migration.number}.")
        migration_finished.send(sender=MigrationAttempt, attempt=migration)
        return

    check = Check.objects.filter(code=later).first()
    stage = check.stage if check else Stage.COMMUNICATIONS
    if later == "GT01":
        # Gas HAN error: electricity migrated, gas excluded until a site visit fixes the HAN.
        migration.outcome, migration.stage_reached, migration.failure_check = MigrationOutcome.PARTIAL, stage, check
        migration.finished_at, migration.detail = now, "Electricity migrated; gas excluded (GT01)."
        migration.save(update_fields=["outcome", "finished_at", "stage_reached", "failure_check", "detail", "sms_sent"])
        installation.migration_status = MigrationStatus.PARTIALLY_MIGRATED
        _mark_migrated(installation, now)
        installation.save(update_fields=["migration_status", "migrated_at", "updated_at"])
        cases = driven_cases(migration)
        gas_case = raise_failure(attempt=migration, check_code="GT01", detail=migration.detail, stage=stage)
        record_on_cases(
            [*cases, *([gas_case] if gas_case else [])],
            body=f"Migration attempt {migration.number} partly succeeded: electricity migrated, gas excluded (GT01).",
            data={"migration_attempt": migration.pk, "outcome": migration.outcome, "check": "GT01"},
        )
        for case in cases:
            if gas_case is not None and case.pk == gas_case.pk:
                continue
            fire(case, "resolve_partial", note="Electricity migrated; gas excluded (GT01).")
        if gas_case is not None:
            case = Case.objects.get(pk=gas_case.pk)
            if case.state == CaseState.RETRY_SCHEDULED:
                case = fire(case, "start_retry") or case
            if case.state == CaseState.RETRYING:
                fire(case, "retry_failed", note="Gas HAN still failing (GT01).")
        migration_finished.send(sender=MigrationAttempt, attempt=migration)
        return

    _migration_failed(
        migration,
        check_code=later,
        stage=stage,
        detail=f"Session established; migration failed at {Stage(stage).label.lower()} ({later}).",
        now=now,
    )


def _migration_failed(
    migration: MigrationAttempt, *, check_code: str, stage: str, detail: str, now: datetime, budget_spent: bool = False
) -> None:
    """The window failed: record it, raise the case, reschedule or propose exclusion."""
    installation = lock_installation(migration.installation_id)
    check = Check.objects.filter(code=check_code).first()
    migration.outcome, migration.finished_at, migration.stage_reached = MigrationOutcome.FAILED, now, stage
    migration.failure_check, migration.detail = check, detail
    migration.save(update_fields=["outcome", "finished_at", "stage_reached", "failure_check", "detail", "sms_sent"])
    installation.migration_attempt_count += 1
    installation.migration_status = MigrationStatus.ROLLED_BACK if stage in BEFORE_CREDENTIALS else MigrationStatus.FAILED
    if installation.migration_status == MigrationStatus.ROLLED_BACK and migration.kind == AttemptKind.FIRMWARE_UPGRADE:
        installation.migration_status = MigrationStatus.FAILED
    installation.save(update_fields=["migration_attempt_count", "migration_status", "updated_at"])
    migration.installation = installation

    raised = raise_failure(attempt=migration, check_code=check_code, detail=detail, stage=stage)
    cases = driven_cases(migration)
    for case in cases:
        if case.state == CaseState.RETRY_SCHEDULED:
            fire(case, "start_retry")
    for case in driven_cases(migration):
        if case.state == CaseState.RETRYING:
            fire(case, "retry_failed", note=f"Migration attempt {migration.number} failed ({check_code}).")
    involved = [*cases, *([raised] if raised is not None else [])]
    record_on_cases(
        involved,
        body=f"{migration.get_kind_display()} attempt {migration.number} failed ({check_code}): {detail}",
        data={
            "migration_attempt": migration.pk,
            "number": migration.number,
            "outcome": migration.outcome,
            "check": check_code,
            "failed_attempts": installation.migration_attempt_count,
        },
    )
    migration_finished.send(sender=MigrationAttempt, attempt=migration)

    policy = migration.policy
    auto = check is not None and (check.category in AUTO_RESCHEDULE_CATEGORIES or check.code in AUTO_RESCHEDULE_CHECKS)
    if attempts_exhausted(policy, installation.migration_attempt_count) or budget_spent:
        _attempts_exhausted(migration, installation, raised, involved)
    elif auto:
        reschedule_after(attempt=migration, failed_at=now, cases=involved)
    else:
        record_on_cases(
            involved,
            body=f"Not rescheduled automatically: {check_code} needs correcting first; request a retry when it is.",
            data={"migration_attempt": migration.pk, "check": check_code},
        )


def _attempts_exhausted(migration: MigrationAttempt, installation, raised: Case | None, involved: list[Case]) -> None:  # type: ignore[no-untyped-def]
    from cases.domain import EventKind

    limit = migration.policy.migration_attempts_before_exclusion
    if installation.installation_type == InstallationType.DORMANT:
        # MEHR.md §6: ask the supplier to state that the meter cannot be migrated (→ PM005 → exclusion).
        record_on_cases(
            involved,
            kind=EventKind.NOTIFICATION,
            body=f"Dormant retry policy exhausted after {installation.migration_attempt_count} failed attempts: "
            "the Responsible Supplier is asked to state whether the meter can be migrated.",
            data={"migration_attempt": migration.pk, "request": "supplier_statement", "limit": limit},
        )
        return
    target = raised or next((c for c in involved if c.is_open), None)
    if target is None:
        return
    target = Case.objects.get(pk=target.pk)
    if target.state in (CaseState.EXCLUSION_PROPOSED, CaseState.ESCALATED) or not target.is_open:
        return
    fire(
        target,
        "propose_exclusion",
        note=f"{installation.migration_attempt_count} migration attempts failed (limit {limit}).",
        excluded_category=ExcludedCategory.MIGRATION_ATTEMPTS_EXHAUSTED,
    )


def session_attempts_reap(*, now: datetime | None = None, batch_size: int = 500) -> dict[str, int]:
    """Return expired claims to SCHEDULED (never started: safe to run) and time out expired runs
    (the worker died mid-call: the S1SP may have been contacted, so it is never run again)."""
    now = now or timezone.now()
    returned = 0
    with transaction.atomic():
        stale = list(
            SessionAttempt.objects.select_for_update(skip_locked=True)
            .filter(state=SessionState.CLAIMED, lease_expires_at__lt=now)
            .values_list("pk", flat=True)[:batch_size]
        )
        if stale:
            # The claim token is kept: the expired claim's message is most likely still queued behind a
            # backlog (a slow or restarted worker), and the re-claim reuses the token so that message
            # can still start the attempt. A new token per re-claim made every queued message stale
            # once the backlog took longer than a lease to drain: workers then spent their time
            # refusing stale messages while leases kept expiring (a livelock seen in the fault drill).
            # Exactly-once start does not rest on the token but on the CLAIMED -> RUNNING update.
            returned = SessionAttempt.objects.filter(pk__in=stale, state=SessionState.CLAIMED).update(
                state=SessionState.SCHEDULED, lease_expires_at=None
            )
    timed_out = 0
    candidates = list(
        SessionAttempt.objects.filter(state=SessionState.RUNNING, lease_expires_at__lt=now).values_list("pk", flat=True)[
            :batch_size
        ]
    )
    for pk in candidates:
        with transaction.atomic():
            attempt = (
                SessionAttempt.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state=SessionState.RUNNING, lease_expires_at__lt=now)
                .first()
            )
            if attempt is None:
                continue
            result = SessionResult(
                SessionStatus.NO_RESPONSE, code="LEASE_EXPIRED", detail="The worker running it was lost."
            )
            # The wake SMS were probably sent: count them against the budget.
            sms = attempt.policy.wake_sms_per_attempt
            _finish(attempt, state=SessionState.TIMED_OUT, code=result.code, detail=result.detail, sms=sms, now=now)
            after_session(attempt, result=result, now=now)
            timed_out += 1
    return {"returned": returned, "timed_out": timed_out}
