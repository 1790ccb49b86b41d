"""A deterministic S1SP for development, demos, tests and benchmarks.

Behaviour comes from SimulatorBehaviour rows (per installation, else per device model) or the
default mode in settings. Every call is written to SimulatorCall (committed at once, outside any
transaction) so that tests in other processes can count how often the outside world was contacted.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from . import SessionResult, SessionStatus

if TYPE_CHECKING:
    from cases.models import Installation


def _unit(seed: int, installation_id: int, call_number: int) -> float:
    """A reproducible number in [0, 1) for this (seed, installation, call)."""
    digest = hashlib.sha256(f"{seed}:{installation_id}:{call_number}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class S1SPSimulator:
    latency: float = 0.0
    seed: int = 0
    default_mode: str = "CONNECT"
    time_scale: float = 1.0
    record: bool = True

    @classmethod
    def from_settings(cls) -> S1SPSimulator:
        mehr = settings.MEHR
        return cls(
            latency=float(mehr.get("S1SP_SIMULATOR_LATENCY_SECONDS", 0)),
            seed=int(mehr.get("S1SP_SIMULATOR_SEED", 0)),
            default_mode=str(mehr.get("S1SP_SIMULATOR_DEFAULT_MODE", "CONNECT")),
            time_scale=float(mehr.get("S1SP_SIMULATOR_TIME_SCALE", 1.0)),
        )

    def behaviour_for(self, installation: Installation):  # type: ignore[no-untyped-def]
        return self._lookup(installation.pk)[0]

    def _lookup(self, installation_id: int):  # type: ignore[no-untyped-def]
        """(behaviour or None, calls received so far for the installation) in one round trip:
        the installation's own behaviour first, else one for a model of its devices."""
        from django.db import connection

        from retries import sql
        from retries.models import SimulatorBehaviour

        if connection.vendor != "postgresql":
            return self._lookup_portable(installation_id)
        fields = SimulatorBehaviour._meta.concrete_fields
        columns = ", ".join(f'b."{f.column}"' for f in fields)
        row = sql.execute(
                f"""
                SELECT (SELECT count(*) FROM retries_simulatorcall c WHERE c.installation_id = %(i)s), {columns}
                  FROM (SELECT 1) AS one
                  LEFT JOIN LATERAL (
                      SELECT * FROM retries_simulatorbehaviour b
                       WHERE b.installation_id = %(i)s
                          OR (b.installation_id IS NULL AND b.device_model IN (
                              SELECT d.model FROM cases_device d WHERE d.installation_id = %(i)s AND d.model <> ''))
                       ORDER BY b.installation_id ASC NULLS LAST, b.id
                       LIMIT 1
                  ) b ON true
                """,
                {"i": installation_id},
        )[0]
        if row[1] is None:
            return None, row[0]
        return SimulatorBehaviour.from_db(connection.alias, [f.attname for f in fields], row[1:]), row[0]

    @staticmethod
    def _lookup_portable(installation_id: int):  # type: ignore[no-untyped-def]
        """``_lookup`` through the ORM, for databases other than PostgreSQL (make run's SQLite)."""
        from django.db.models import F, Q

        from cases.models import Device
        from retries.models import SimulatorBehaviour, SimulatorCall

        models = Device.objects.filter(installation_id=installation_id).exclude(model="").values("model")
        behaviour = (
            SimulatorBehaviour.objects.filter(
                Q(installation_id=installation_id) | Q(installation__isnull=True, device_model__in=models)
            )
            .order_by(F("installation_id").asc(nulls_last=True), "id")
            .first()
        )
        return behaviour, SimulatorCall.objects.filter(installation_id=installation_id).count()

    def establish_session(
        self, installation: Installation, *, timeout: float, idempotency_key: str = "", wake_sms: int = 0
    ) -> SessionResult:
        from retries.models import SimulatorBehaviour

        behaviour, previous_calls = self._lookup(installation.pk)
        Mode = SimulatorBehaviour.Mode
        mode = behaviour.mode if behaviour else self.default_mode
        latency = behaviour.latency_seconds if behaviour and behaviour.latency_seconds is not None else self.latency

        if mode == Mode.FAIL_THEN_CONNECT:
            mode = behaviour.failure_mode if previous_calls < behaviour.fail_times else Mode.CONNECT
        elif mode == Mode.RANDOM:
            probability = behaviour.connect_probability if behaviour else 0.5
            connects = _unit(self.seed, installation.pk, previous_calls) < probability
            mode = Mode.CONNECT if connects else (behaviour.failure_mode if behaviour else Mode.NEVER_ANSWER)

        if mode == Mode.CONNECT:
            result = SessionResult(
                SessionStatus.CONNECTED,
                code="OK",
                sms_sent=wake_sms,
                later_stage_check=behaviour.after_connect_check if behaviour else "",
            )
        elif mode == Mode.REFUSE:
            code = (behaviour.refuse_code if behaviour else "") or "CH_UNREACHABLE"
            result = SessionResult(SessionStatus.REFUSED, code=code, detail="Simulated refusal.", sms_sent=wake_sms)
        else:  # NEVER_ANSWER: the CH stays silent until the caller's timeout
            result = SessionResult(
                SessionStatus.NO_RESPONSE, code="TIMEOUT", detail=f"No answer within {timeout:g} s.", sms_sent=wake_sms
            )

        if self.record:
            from django.db import connection
            from django.utils import timezone

            insert = (
                "INSERT INTO retries_simulatorcall (idempotency_key, installation_id, called_at, timeout_seconds,"
                " wake_sms, status, code, worker_pid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            )
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                # Its own transaction in one round trip, without waiting for the WAL flush: this log
                # stands in for the outside world's, so only a PostgreSQL crash (not a killed worker
                # or backend) could lose its last rows, and the engine's own writes stay synchronous.
                insert = f"BEGIN; SET LOCAL synchronous_commit = off; {insert}; COMMIT"
            with connection.cursor() as cursor:  # raw: the ORM's insert machinery cost more than the row
                cursor.execute(
                    insert,
                    [idempotency_key, installation.pk, timezone.now(), timeout, wake_sms, result.status, result.code,
                     os.getpid()],
                )
        wait = timeout * self.time_scale if result.status == SessionStatus.NO_RESPONSE else latency
        if wait > 0:
            time.sleep(wait)
        return result
