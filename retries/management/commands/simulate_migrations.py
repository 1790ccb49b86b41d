"""Drive migrations through the S1SP simulator so that retries, timeouts and cases appear live.

    python manage.py simulate_migrations --installations 50 --profile mixed

With ``make run`` the worker and beat do the work and the cases appear in the UI as it happens.
``--drive`` runs the claim loop in this process instead (no worker needed) until nothing is due.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from cases.domain import Cohort, DeviceType, InstallationType, OrganisationKind
from cases.models import Device, Installation, Organisation
from cases.validators import mpan_check_digit
from retries.models import MigrationAttempt, RetryPolicy, SessionAttempt, SessionState, SimulatorBehaviour
from retries.services import migration_schedule

Mode = SimulatorBehaviour.Mode
SIMULATION_POLICY = "Simulation"

# profile → [(weight, behaviour fields, installation type)]
PROFILES: dict[str, list[tuple[int, dict, str]]] = {
    "happy": [(1, {"mode": Mode.CONNECT}, InstallationType.ACTIVE)],
    "flaky": [(1, {"mode": Mode.FAIL_THEN_CONNECT, "fail_times": 2}, InstallationType.ACTIVE)],
    "dead": [(1, {"mode": Mode.NEVER_ANSWER}, InstallationType.ACTIVE)],
    "dormant": [
        (3, {"mode": Mode.CONNECT}, InstallationType.DORMANT),
        (1, {"mode": Mode.NEVER_ANSWER}, InstallationType.DORMANT),
    ],
    "mixed": [
        (55, {"mode": Mode.CONNECT}, InstallationType.ACTIVE),
        (15, {"mode": Mode.FAIL_THEN_CONNECT, "fail_times": 2}, InstallationType.ACTIVE),
        (8, {"mode": Mode.NEVER_ANSWER}, InstallationType.ACTIVE),
        (5, {"mode": Mode.REFUSE, "refuse_code": "CH_UNREACHABLE"}, InstallationType.ACTIVE),
        (5, {"mode": Mode.CONNECT, "after_connect_check": "GT01"}, InstallationType.ACTIVE),
        (4, {"mode": Mode.CONNECT, "after_connect_check": "DV001"}, InstallationType.ACTIVE),
        (4, {"mode": Mode.CONNECT, "after_connect_check": "CM002"}, InstallationType.ACTIVE),
        (4, {"mode": Mode.CONNECT}, InstallationType.DORMANT),
    ],
}


class Command(BaseCommand):
    help = "Create installations with simulator behaviours and schedule their migrations (see module docstring)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--installations", type=int, default=20)
        parser.add_argument("--profile", choices=sorted(PROFILES), default="mixed")
        parser.add_argument("--supplier", help="Supplier organisation code (default: the first supplier).")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--spread-seconds", type=float, default=30.0, help="Window starts spread over this.")
        parser.add_argument("--timeout-seconds", type=int, default=5, help="Session timeout of the simulation policy.")
        parser.add_argument("--interval-seconds", type=int, default=10, help="Interval between session attempts.")
        parser.add_argument("--drive", action="store_true", help="Run the attempts in this process until none is due.")

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        if opts["installations"] < 1:
            raise CommandError("--installations must be at least 1.")
        rng = random.Random(opts["seed"])
        policy, _ = RetryPolicy.objects.update_or_create(
            name=SIMULATION_POLICY,
            defaults={
                "auto_select": False,
                "session_timeout_seconds": opts["timeout_seconds"],
                "attempt_interval_seconds": opts["interval_seconds"],
                "window_length_minutes": 10,
                # 0 working days and a window opening at midnight: a failed window is retried at once
                # (on a working day), so a demo reaches exclusion in minutes instead of a week.
                "reschedule_delay_working_days": 0,
                "notes": "Used by simulate_migrations only (not selected automatically).",
            },
        )
        supplier = self._organisation(OrganisationKind.USER, opts["supplier"], "sim-supplier", "Simulated Supplier")
        smso = self._organisation(OrganisationKind.SMSO, None, "sim-smso", "Simulated SMSO")
        weights = [w for w, _, _ in PROFILES[opts["profile"]]]
        now = timezone.now()
        created = []
        with transaction.atomic():
            base = Installation.objects.count() + 1
            for i in range(opts["installations"]):
                _, behaviour, kind = rng.choices(PROFILES[opts["profile"]], weights=weights)[0]
                seed = base + i + opts["seed"] * 1_000_003
                first = f"{(seed * 7919 + 2_000_000_000) % 10**12:012d}"
                installation = Installation.objects.create(
                    responsible_supplier=supplier,
                    smso=smso,
                    cohort=rng.choice(Cohort.values),
                    installation_type=kind,
                    mpan=first + str(mpan_check_digit(first)),
                    mprn=str(8_000_000 + seed % 90_000_000),
                    region="Simulated",
                )
                for n, device_type in enumerate((DeviceType.ESME, DeviceType.GSME, DeviceType.CHF)):
                    eui = 0x70B3D51F40000000 + seed * 4 + n
                    Device.objects.create(
                        installation=installation,
                        device_type=device_type,
                        model=f"Sim {device_type}",
                        eui64="-".join(f"{eui >> s & 0xFF:02X}" for s in range(56, -8, -8)),
                    )
                SimulatorBehaviour.objects.create(installation=installation, **behaviour)
                start = now + timedelta(seconds=rng.uniform(0, opts["spread_seconds"]))
                created.append(migration_schedule(installation=installation, actor=None, window_start=start, policy=policy))
        self.stdout.write(
            f"Scheduled {len(created)} migrations ({opts['profile']}) for {supplier.name}; "
            f"session timeout {policy.session_timeout_seconds} s, interval {policy.attempt_interval_seconds} s."
        )
        if opts["drive"]:
            self._drive([a.installation_id for a in created])

    def _organisation(self, kind: str, code: str | None, default_code: str, name: str) -> Organisation:
        if code:
            org = Organisation.objects.filter(kind=kind, code=code).first()
            if org is None:
                raise CommandError(f"No {kind} organisation {code!r}.")
            return org
        org = Organisation.objects.filter(kind=kind, is_active=True).order_by("pk").first()
        return org or Organisation.objects.create(kind=kind, code=default_code, name=name)

    def _drive(self, installation_ids: list[int]) -> None:
        from retries.services.claiming import claim_batch
        from retries.services.running import session_attempt_run

        while True:
            pending = SessionAttempt.objects.filter(installation_id__in=installation_ids, state=SessionState.SCHEDULED)
            due = pending.filter(due_at__lte=timezone.now())
            if not due.exists():
                upcoming = pending.order_by("due_at").values_list("due_at", flat=True).first()
                if upcoming is None or upcoming > timezone.now() + timedelta(minutes=2):
                    break
                time.sleep(min(1.0, max(0.0, (upcoming - timezone.now()).total_seconds())))
                continue
            for item in claim_batch():
                session_attempt_run(attempt_id=item.pk, claim_token=item.token, worker="simulate_migrations")
        outcomes = MigrationAttempt.objects.filter(installation_id__in=installation_ids)
        summary = {o: outcomes.filter(outcome=o).count() for o in outcomes.values_list("outcome", flat=True).distinct()}
        self.stdout.write(f"Driven: {summary}")
