"""Realistic data for looking at the browser screens (screenshots, manual checks).

Builds organisations, people, installations with devices, and cases in many states, all through the
services (so timelines are real). Used by tools/screenshots.py; safe to run on an empty database only.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases.domain import Cohort, DeviceType, ExcludedCategory, InstallationType, OrganisationKind, Party, Role
from cases.models import Case, Check, Device, Installation, Membership, Organisation
from cases.services import case_add_note, case_raise, case_tick_checklist, case_transition
from cases.validators import mpan_check_digit

PASSWORD = "mehr-demo-password"

PEOPLE = [
    ("dcc", "priya.shah", "Priya", "Shah", Role.DCC_OPERATOR),
    ("dcc", "tom.okafor", "Tom", "Okafor", Role.DCC_OPERATOR),
    ("dcc", "helen.marsh", "Helen", "Marsh", Role.DCC_MANAGER),
    ("northwind", "amy.clarke", "Amy", "Clarke", Role.USER_AGENT),
    ("northwind", "raj.patel", "Raj", "Patel", Role.USER_AGENT),
    ("northwind", "sam.viewer", "Sam", "Hughes", Role.USER_VIEWER),
    ("solent", "li.wong", "Li", "Wong", Role.USER_AGENT),
]


def _mpan(rng: random.Random) -> str:
    first = f"{rng.randrange(10**11, 10**12):012d}"
    return first + str(mpan_check_digit(first))


def _eui(rng: random.Random) -> str:
    return "-".join(f"{b:02X}" for b in [0x70, 0xB3, 0xD5, *(rng.randrange(256) for _ in range(5))])


def build(seed: int = 7) -> dict[str, object]:
    rng = random.Random(seed)
    orgs = {
        "dcc": Organisation.objects.create(kind=OrganisationKind.DCC, code="dcc", name="Data Communications Company"),
        "northwind": Organisation.objects.create(kind=OrganisationKind.USER, code="northwind", name="Northwind Energy"),
        "solent": Organisation.objects.create(kind=OrganisationKind.USER, code="solent", name="Solent Power & Gas"),
        "secure": Organisation.objects.create(kind=OrganisationKind.SMSO, code="secure", name="Secure Meters (SMSO)"),
        "mds": Organisation.objects.create(kind=OrganisationKind.SMSO, code="mds", name="MDS (SMSO)"),
    }
    User = get_user_model()
    people = {}
    for org, username, first, last, role in PEOPLE:
        user = User.objects.create_user(username, f"{username}@example.org", PASSWORD, first_name=first, last_name=last)
        Membership.objects.create(user=user, organisation=orgs[org], role=role)
        people[username] = user

    checks = {c.code: c for c in Check.objects.all()}
    plan = ["CM001", "CM002", "CM003", "PM001", "DV001", "DV002", "DV003", "MA110", "GT01", "SM001", "HN001", "PS001", "MF001", "CR001"]
    plan = [c for c in plan if c in checks]
    installations = []
    for i in range(70):
        supplier = orgs["northwind"] if i % 3 else orgs["solent"]
        cohort = rng.choice([Cohort.FOC, Cohort.FOC, Cohort.MOC_SECURE, Cohort.MOC_MDS, Cohort.IOC])
        inst = Installation.objects.create(
            responsible_supplier=supplier,
            smso=orgs["secure"] if cohort in (Cohort.MOC_SECURE, Cohort.FOC) else orgs["mds"],
            cohort=cohort,
            installation_type=rng.choice([InstallationType.ACTIVE] * 5 + [InstallationType.DORMANT, InstallationType.MIXED]),
            mpan=_mpan(rng),
            mprn=str(rng.randrange(10**7, 10**9)),
            region=rng.choice(["North West", "London", "South East", "Yorkshire", "Wales"]),
            migration_attempt_count=rng.choice([0, 1, 1, 2, 3, 4]),
        )
        for dt in (DeviceType.ESME, DeviceType.GSME, DeviceType.CHF, DeviceType.GPF, DeviceType.IHD):
            Device.objects.create(installation=inst, eui64=_eui(rng), device_type=dt, model=f"{dt} model {rng.randrange(1, 9)}", firmware_version=f"{rng.randrange(1, 4)}.{rng.randrange(0, 9)}.{rng.randrange(0, 20)}")
        installations.append(inst)

    now = timezone.now()
    dcc_ops = [people["priya.shah"], people["tom.okafor"]]
    cases: list[Case] = []
    for n, inst in enumerate(installations):
        code = plan[n % len(plan)]
        check = checks[code]
        if not check.applies_to(inst.cohort):
            continue
        occurred = now - timedelta(days=rng.choice([0, 0, 1, 2, 3, 6, 9, 14, 25]), hours=rng.randrange(0, 20))
        result = case_raise(installation=inst, check=check, source="s1sp", source_event_id=f"evt-{n}", occurred_at=occurred,
                            detail=f"{code} reported by the S1SP for {inst.mpan}.")
        case = result.case
        Case.objects.filter(pk=case.pk).update(raised_at=occurred, updated_at=occurred)
        case.refresh_from_db()
        cases.append(case)

    agents = {"northwind": [people["amy.clarke"], people["raj.patel"]], "solent": [people["li.wong"]]}
    for i, case in enumerate(cases):
        if case.state != "RAISED":
            continue
        shape = i % 9
        if shape == 0:
            continue  # left raised, awaiting triage
        op = dcc_ops[i % 2]
        user_side = case.check_type.acting_party == Party.USER or shape in (2, 5)
        case = case_transition(case=case, transition="triage", actor=op, owner_party=Party.USER if user_side else Party.DCC,
                               assignee=op, note="Triaged from the overnight S1SP report.")
        case_add_note(case=case, actor=op, kind="INVESTIGATION", body="S1SP logs show the session was not established after 2 wake SMS.",
                      visibility="INTERNAL" if i % 2 else "SHARED")
        for item in case.checklist.all():
            if item.party != Party.USER and rng.random() < 0.7:
                case_tick_checklist(case=case, order=item.order, actor=op)
        if shape in (1, 2, 5):
            case = case_transition(case=case, transition="await_user", actor=op, note="Please check the MA data held for this installation.")
            agent = agents[case.supplier.code][i % len(agents[case.supplier.code])]
            if shape == 5:
                for item in case.checklist.all():
                    if item.party == Party.USER:
                        case_tick_checklist(case=case, order=item.order, actor=agent)
                case_add_note(case=case, actor=agent, kind="CORRECTION", body="Corrected the device model in our MA record and resubmitted.",
                              attachments=[SimpleUploadedFile("ma-record.csv", b"mpan,model\n", content_type="text/csv")])
        elif shape == 3:
            case = case_transition(case=case, transition="await_smso", actor=op, note="SMSO to confirm WAN coverage.")
        elif shape == 4:
            case = case_transition(case=case, transition="await_dcc", actor=op)
            case = case_transition(case=case, transition="escalate", actor=people["helen.marsh"], incident_reference=f"INC00{4000 + i}",
                                   note="Live-service impact: several CHs in one postcode.")
        elif shape == 6 and case.check_type.retryable:
            case = case_transition(case=case, transition="schedule_retry", actor=op, note="Retry in the next window.")
        elif shape == 7:
            case = case_transition(case=case, transition="propose_exclusion", actor=op,
                                   excluded_category=ExcludedCategory.NO_WAN_DURING_MIGRATION, note="Five windows without WAN.")
        elif shape == 8:
            case = case_transition(case=case, transition="await_dcc", actor=op)
    _retry_history(rng, installations[:24], people["priya.shah"])
    return {"people": people, "cases": cases}


def _retry_history(rng: random.Random, installations: list[Installation], operator: object) -> None:
    """Migration and session attempts run through the engine with the S1SP simulator, then moved
    back in time so the charts show a fortnight of history."""
    from django.db.models import F

    from retries.models import MigrationAttempt, SessionAttempt, SessionState
    from retries.s1sp.simulator import S1SPSimulator
    from retries.services import migration_schedule
    from retries.services.claiming import claim_batch
    from retries.services.running import session_attempt_run

    for n, inst in enumerate(installations):
        mode = ["CONNECT", "NEVER_ANSWER", "REFUSE", "CONNECT", "RANDOM"][n % 5]
        simulator = S1SPSimulator(latency=0.0, seed=n, default_mode=mode, time_scale=0.0)
        if not MigrationAttempt.objects.filter(installation=inst, outcome__in=["SCHEDULED", "IN_PROGRESS"]).exists():
            try:
                migration_schedule(installation=inst, actor=operator, reason="Scheduled from the MCC queue")
            except Exception:
                continue
        for _ in range(12):
            nxt = SessionAttempt.objects.filter(installation=inst, state=SessionState.SCHEDULED).order_by("due_at").first()
            if nxt is None or rng.random() < 0.08:
                break
            for item in claim_batch(now=nxt.due_at):
                session_attempt_run(attempt_id=item.pk, claim_token=item.token, worker="demo", client=simulator)
        back = timedelta(days=rng.randrange(0, 13), hours=rng.randrange(0, 10))
        MigrationAttempt.objects.filter(installation=inst).update(
            window_start=F("window_start") - back, window_end=F("window_end") - back, created_at=F("created_at") - back,
        )
        MigrationAttempt.objects.filter(installation=inst, started_at__isnull=False).update(started_at=F("started_at") - back)
        MigrationAttempt.objects.filter(installation=inst, finished_at__isnull=False).update(finished_at=F("finished_at") - back)
        SessionAttempt.objects.filter(installation=inst).update(due_at=F("due_at") - back)
        SessionAttempt.objects.filter(installation=inst, started_at__isnull=False).update(started_at=F("started_at") - back)
        SessionAttempt.objects.filter(installation=inst, finished_at__isnull=False).update(finished_at=F("finished_at") - back)
