"""Demo data for ``make run``: organisations, one account per role, installations and cases.

Everything about cases is written through the services (``case_raise``, ``case_transition``,
``case_assign``, ``case_add_note``, ``case_tick_checklist``), so the audit trail is real. The data is
deterministic (a seeded random generator) and the seeding idempotent: organisations, accounts,
installations and devices are found by their natural keys, and a case is only scripted when its
``case_raise`` (source ``demo``, a fixed source event id) created it — a second run writes nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from cases.domain import (
    OPEN_STATES,
    CaseState,
    Cohort,
    DeviceType,
    ExcludedCategory,
    InstallationType,
    MigrationStatus,
    NoteKind,
    OrganisationKind,
    Party,
    Priority,
    Role,
    Visibility,
)
from cases.models import Case, Check, Device, Installation, Membership, Organisation
from cases.validators import mpan_check_digit, validate_mpan, validate_mprn

SEED = 20_191_001
SOURCE = "demo"
DEFAULT_INSTALLATIONS = 300
DCC_ADMIN_GROUP = "DCC staff (admin)"
DEMO_HASH_ITERATIONS = 20_000

# (username, password, role, organisation code). The launcher prints these; README documents them.
DEMO_ACCOUNTS: list[tuple[str, str, str, str]] = [
    ("admin", "demo-admin", "superuser", "dcc"),
    ("dcc.operator", "demo-dcc-operator", Role.DCC_OPERATOR.value, "dcc"),
    ("dcc.manager", "demo-dcc-manager", Role.DCC_MANAGER.value, "dcc"),
    ("dcc.integration", "demo-dcc-integration", Role.DCC_INTEGRATION.value, "dcc"),
    ("northwind.agent", "demo-northwind-agent", Role.USER_AGENT.value, "northwind"),
    ("northwind.viewer", "demo-northwind-viewer", Role.USER_VIEWER.value, "northwind"),
    ("northwind.integration", "demo-northwind-integration", Role.USER_INTEGRATION.value, "northwind"),
    ("brightside.agent", "demo-brightside-agent", Role.USER_AGENT.value, "brightside"),
    ("brightside.viewer", "demo-brightside-viewer", Role.USER_VIEWER.value, "brightside"),
    ("brightside.integration", "demo-brightside-integration", Role.USER_INTEGRATION.value, "brightside"),
]

# (code, kind, name) — fictional names throughout.
DEMO_ORGANISATIONS: list[tuple[str, str, str]] = [
    ("dcc", OrganisationKind.DCC, "Data Communications Company"),
    ("northwind", OrganisationKind.USER, "Northwind Energy"),
    ("brightside", OrganisationKind.USER, "Brightside Power"),
    ("smso-sentinel", OrganisationKind.SMSO, "SMSO Sentinel"),
    ("smso-mds", OrganisationKind.SMSO, "SMSO MDS"),
    ("smso-secure", OrganisationKind.SMSO, "SMSO Secure"),
    ("smso-edmi", OrganisationKind.SMSO, "SMSO EDMI"),
    ("dco", OrganisationKind.DCO, "Dual Control Organisation"),
    ("north-grid", OrganisationKind.NETWORK_OPERATOR, "North Grid Networks"),
]
SUPPLIERS = ("northwind", "brightside")
COHORT_SMSO = {
    Cohort.IOC: "smso-sentinel",
    Cohort.MOC_MDS: "smso-mds",
    Cohort.MOC_SECURE: "smso-secure",
    Cohort.FOC: "smso-edmi",
}
REGIONS = ("North West", "North East", "Yorkshire", "Midlands", "East Anglia", "London", "South West", "Wales")
COMMS_PROVIDERS = ("Comms North", "Comms Central", "Comms South")
DEVICE_MODELS = {
    DeviceType.ESME: ("Meterwise E1", "Voltline 300", "Kestrel EM-2"),
    DeviceType.GSME: ("Meterwise G1", "Gasline 200"),
    DeviceType.CHF: ("Hubcore S1", "Linkbox 2G"),
    DeviceType.GPF: ("Hubcore S1 GPF", "Linkbox 2G GPF"),
    DeviceType.PPMID: ("Paypoint Mini",),
    DeviceType.IHD: ("Glowpanel 3", "Homeview IHD"),
}
_DEVICE_TYPE_INDEX = {t: n for n, t in enumerate(DeviceType.values)}

S = CaseState
# Every state a case can rest in, in the order installations cycle through them.
TARGET_STATES: tuple[str, ...] = (
    S.RAISED, S.TRIAGED, S.AWAITING_DCC, S.AWAITING_USER, S.AWAITING_SMSO, S.RETRY_SCHEDULED, S.RETRYING,
    S.ESCALATED, S.EXCLUSION_PROPOSED, S.RESOLVED, S.RESOLVED_PARTIAL, S.EXCLUDED, S.WITHDRAWN, S.CLOSED,
)
RETRY_TARGETS = frozenset({S.RETRY_SCHEDULED, S.RETRYING, S.RESOLVED, S.RESOLVED_PARTIAL, S.CLOSED})
# Targets reached (in some variants) through the retry engine's own services.
ENGINE_TARGETS = frozenset({S.TRIAGED, S.RETRYING, S.RESOLVED, S.RESOLVED_PARTIAL, S.CLOSED})
# Second cases on an installation stay clear of the retry engine (one open migration attempt each).
MANUAL_TARGETS = (S.AWAITING_SMSO, S.ESCALATED, S.EXCLUSION_PROPOSED, S.WITHDRAWN, S.RAISED, S.AWAITING_USER)


# --- plans (pure: the same for every run) ----------------------------------------------------------
@dataclass(frozen=True)
class InstallationPlan:
    n: int
    supplier: str
    cohort: str
    installation_type: str
    mpan: str
    mprn: str
    region: str
    comms_provider: str
    devices: tuple[tuple[str, str, str, str], ...]  # (eui64, type, model, firmware)
    target: str | None  # the state its case ends in, or None (no case)
    second_target: str | None  # a second case (another check) on a few installations
    occurred_days_ago: int
    priority: int
    variant: int


def _eui64(n: int, device_type: str) -> str:
    value = 0x70B3D51F30000000 + n * 8 + _DEVICE_TYPE_INDEX[device_type]
    raw = f"{value:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


def plan_installations(count: int = DEFAULT_INSTALLATIONS) -> list[InstallationPlan]:
    rng = random.Random(SEED)
    cohorts = list(Cohort.values)
    plans = []
    for n in range(count):
        first12 = f"{10 + n % 14:02d}{rng.randrange(10**6):06d}{n:04d}"
        electricity_only = rng.random() < 0.15
        mprn = "" if electricity_only else f"{rng.randint(1, 9)}{n:04d}{rng.randrange(1000):03d}"
        kind = rng.choices(InstallationType.values, weights=(70, 20, 10))[0]
        devices = [DeviceType.ESME, DeviceType.CHF]
        if mprn:
            devices += [DeviceType.GSME, DeviceType.GPF]
        if rng.random() < 0.8:
            devices.append(DeviceType.IHD)
        if rng.random() < 0.15:
            devices.append(DeviceType.PPMID)
        # Every other installation has a case (the rest are pending or migrated cleanly); those cycle
        # through the states so that every state meets every cohort. A few have a second case.
        target = TARGET_STATES[(n // 2) % len(TARGET_STATES)] if n % 2 == 0 else None
        second = MANUAL_TARGETS[(n // 20) % len(MANUAL_TARGETS)] if target and n % 20 == 0 else None
        if target in ENGINE_TARGETS and kind == InstallationType.DORMANT:
            # Dormant installations get a firmware upgrade before any migration attempt (their retry
            # policy); the demo's engine-driven outcomes need a migration attempt straight away.
            kind = InstallationType.ACTIVE
        plans.append(
            InstallationPlan(
                n=n,
                # k = n // 2 walks the states; these offsets make every (state, cohort) pair and both
                # suppliers appear within the first 56 cases.
                supplier=SUPPLIERS[(n // 2 // 7 + n) % len(SUPPLIERS)],
                cohort=cohorts[(n // 2 + n // 28) % len(cohorts)],
                installation_type=kind,
                mpan=first12 + str(mpan_check_digit(first12)),
                mprn=mprn,
                region=rng.choice(REGIONS),
                comms_provider=rng.choice(COMMS_PROVIDERS),
                devices=tuple(
                    (_eui64(n, t), t, rng.choice(DEVICE_MODELS[t]), f"{rng.randint(1, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}")
                    for t in devices
                ),
                target=target,
                second_target=second,
                occurred_days_ago=rng.randint(0, 45),
                priority=rng.choices(Priority.values, weights=(5, 20, 60, 15))[0],
                variant=rng.randrange(1000),
            )
        )
    return plans


# --- organisations and accounts -------------------------------------------------------------------
def _organisations() -> tuple[dict[str, Organisation], int]:
    created = 0
    orgs = {}
    for code, kind, name in DEMO_ORGANISATIONS:
        org, was_created = Organisation.objects.get_or_create(code=code, defaults={"kind": kind, "name": name})
        orgs[code] = org
        created += was_created
    return orgs, created


def _dcc_admin_group() -> Group:
    group, created = Group.objects.get_or_create(name=DCC_ADMIN_GROUP)
    if created:
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="cases")
            | Permission.objects.filter(content_type__app_label="auth", codename__in=["view_user", "change_user"])
        )
    return group


def _accounts(orgs: dict[str, Organisation]) -> tuple[dict[str, Any], int]:
    user_model = get_user_model()
    existing = {u.username: u for u in user_model.objects.filter(username__in=[a[0] for a in DEMO_ACCOUNTS])}
    missing = [a for a in DEMO_ACCOUNTS if a[0] not in existing]
    # Full-strength PBKDF2 costs ~0.5 s a password. These passwords are published in the README, so
    # a lighter work factor loses nothing; Django upgrades each hash to full strength at first login.
    hasher = PBKDF2PasswordHasher()
    hashes = [hasher.encode(password, hasher.salt(), iterations=DEMO_HASH_ITERATIONS) for _u, password, _r, _o in missing]
    group = _dcc_admin_group() if missing else None
    for (username, _password, role, org_code), hashed in zip(missing, hashes, strict=True):
        first, _, last = username.partition(".")
        user = user_model.objects.create(
            username=username,
            password=hashed,
            email=f"{username}@example.org",
            first_name=first.title(),
            last_name=last.title(),
            is_superuser=role == "superuser",
            # DCC staff may use the admin; Users use the product's own screens.
            is_staff=role in ("superuser", Role.DCC_OPERATOR, Role.DCC_MANAGER),
        )
        if role != "superuser":
            Membership.objects.create(user=user, organisation=orgs[org_code], role=role)
            if role in (Role.DCC_OPERATOR, Role.DCC_MANAGER) and group is not None:
                user.groups.add(group)
    people = {
        u.username: u
        for u in user_model.objects.select_related("membership__organisation").filter(
            username__in=[a[0] for a in DEMO_ACCOUNTS]
        )
    }
    return people, len(missing)


# --- installations ----------------------------------------------------------------------------------
def _installations(plans: list[InstallationPlan], orgs: dict[str, Organisation]) -> tuple[dict[int, Installation], int, int]:
    by_mpan = {i.mpan: i for i in Installation.objects.filter(mpan__in=[p.mpan for p in plans])}
    new = []
    now = timezone.now()
    for plan in plans:
        if plan.mpan in by_mpan:
            continue
        status, attempts = _migration_status(plan)
        new.append(
            Installation(
                responsible_supplier=orgs[plan.supplier],
                smso=orgs[COHORT_SMSO[plan.cohort]],
                cohort=plan.cohort,
                installation_type=plan.installation_type,
                mpan=plan.mpan,
                mprn=plan.mprn,
                region=plan.region,
                comms_provider=plan.comms_provider,
                migration_status=status,
                migration_attempt_count=attempts,
                # Spread over the last three weeks, so the daily report shows migrations on most days.
                migrated_at=now - timedelta(days=1 + plan.n % 21, hours=plan.n % 24)
                if status == MigrationStatus.MIGRATED else None,
            )
        )
    for installation in new:  # the identifiers are generated valid; prove it cheaply (no per-row queries)
        validate_mpan(installation.mpan)
        if installation.mprn:
            validate_mprn(installation.mprn)
    Installation.objects.bulk_create(new)
    by_mpan = {i.mpan: i for i in Installation.objects.filter(mpan__in=[p.mpan for p in plans])}
    installations = {p.n: by_mpan[p.mpan] for p in plans}

    existing_devices = set(Device.objects.filter(installation__in=installations.values()).values_list("eui64", flat=True))
    devices = [
        Device(installation=installations[p.n], eui64=eui64, device_type=t, model=model, firmware_version=firmware)
        for p in plans
        for eui64, t, model, firmware in p.devices
        if eui64 not in existing_devices
    ]
    Device.objects.bulk_create(devices)
    return installations, len(new), len(devices)


def _migration_status(plan: InstallationPlan) -> tuple[str, int]:
    # Installations with a case start out failed; the retry engine moves them on from there.
    if plan.target is None:
        return (MigrationStatus.MIGRATED, 1) if plan.n % 3 else (MigrationStatus.SCHEDULED, 0)
    if plan.variant % 4 == 0:
        return MigrationStatus.ROLLED_BACK, 1
    return MigrationStatus.FAILED, 1 + plan.variant % 3


# --- cases ------------------------------------------------------------------------------------------
def _pick_check(
    checks: list[Check], plan: InstallationPlan, target: str, salt: int, avoid: frozenset[int] = frozenset()
) -> Check:
    # `avoid`: checks with an open case on this installation (raising one again adds an occurrence).
    usable = [c for c in checks if c.applies_to(plan.cohort) and c.pk not in avoid]
    if target == S.RESOLVED_PARTIAL:
        # The engine's GT01 outcome resolves the driving case partially and raises (or re-fails) the
        # GT01 case itself, so the driving case is another check.
        usable = [c for c in usable if c.code != "GT01"]
    if target in (S.EXCLUSION_PROPOSED, S.EXCLUDED) and salt % 3 == 0:
        auto = [c for c in usable if c.exclusion_category]
        if auto:
            return auto[salt % len(auto)]
    usable = [c for c in usable if not c.exclusion_category]
    if target in RETRY_TARGETS:
        usable = [c for c in usable if c.retryable]
    return usable[(plan.n * 7 + salt) % len(usable)]


Step = Callable[[], Any]


class _Script:
    """Drives one case to its target state through the services."""

    def __init__(self, case: Case, plan: InstallationPlan, people: dict[str, Any], salt: int) -> None:
        from cases import services

        self.services = services
        self.case = case
        self.plan = plan
        self.salt = salt
        self.operator = people["dcc.operator"]
        self.manager = people["dcc.manager"]
        self.agent = people[f"{plan.supplier}.agent"]
        self.integration = people[f"{plan.supplier}.integration"]

    def fire(self, transition: str, actor: Any, **kwargs: Any) -> None:
        self.case = self.services.case_transition(
            case=self.case.pk, transition=transition, actor=actor, expected_version=self.case.version, **kwargs
        )

    def note(self, actor: Any, kind: str, body: str, visibility: str = Visibility.SHARED) -> None:
        self.services.case_add_note(case=self.case.pk, actor=actor, kind=kind, body=body, visibility=visibility)

    def tick_first(self, party_side: str) -> None:
        steps = self.case.checklist.filter(done=False)
        steps = steps.filter(party=Party.USER) if party_side == "USER" else steps.exclude(party=Party.USER)
        item = steps.first()
        if item is not None:
            actor = self.agent if party_side == "USER" else self.operator
            self.services.case_tick_checklist(case=self.case.pk, order=item.order, actor=actor)

    # --- building blocks ---------------------------------------------------------------------------
    def triage(self) -> None:
        owner = self.case.check_type.acting_party
        assignee = self.agent if owner == Party.USER else (self.operator if self.salt % 2 else self.manager)
        self.fire("triage", self.operator, owner_party=owner, assignee=assignee, priority=self.plan.priority)
        if self.salt % 3 == 0:
            self.note(self.operator, NoteKind.INVESTIGATION,
                      f"S1SP logs checked for {self.case.installation.mpxn}; failure matches {self.case.check_type.code}.",
                      visibility=Visibility.INTERNAL)
        self.tick_first("DCC")

    def user_corrects(self) -> None:
        self.fire("await_user", self.operator)
        self.note(self.operator, NoteKind.COMMUNICATION,
                  "Please check the MA data and the device records held for this installation.")
        self.tick_first("USER")
        self.note(self.agent, NoteKind.CORRECTION, "MA data corrected and the device records updated.")

    def retry(self, outcome: str | None) -> None:
        """Ask for a retry; then, for an outcome, let the retry engine run the attempt with a scripted S1SP."""
        if self.salt % 2:
            self.user_corrects()
            self.fire("schedule_retry", self.agent)
        else:
            self.fire("await_dcc", self.operator)
            self.fire("schedule_retry", self.operator, note="Firmware record corrected by MCC; retrying.")
        if outcome is None:
            return
        from retries.s1sp import SessionResult, SessionStatus

        result = {
            # No answer from the CH: the attempt stays open with the next session attempt due later.
            "start": SessionResult(SessionStatus.NO_RESPONSE, code="NO_RESPONSE", detail="No answer (demo).", sms_sent=2),
            "resolve": SessionResult(SessionStatus.CONNECTED, sms_sent=1),
            "resolve_partial": SessionResult(SessionStatus.CONNECTED, sms_sent=1, later_stage_check="GT01"),
            # Fails again at a later stage with the same check: an occurrence on this case, back to triage.
            "retry_failed": SessionResult(SessionStatus.CONNECTED, sms_sent=1, later_stage_check=self.case.check_type.code),
        }[outcome]
        _run_retry_engine(result)
        self.case = Case.objects.select_related("check_type", "installation").get(pk=self.case.pk)

    def propose_exclusion(self) -> None:
        if self.case.state == S.EXCLUSION_PROPOSED:
            return  # raised against CR001/PM005: proposed automatically
        self.triage()
        self.fire("propose_exclusion", self.operator, excluded_category=ExcludedCategory.NO_WAN_DURING_MIGRATION,
                  note="No WAN communications in three migration windows.")

    # --- scripts per target --------------------------------------------------------------------------
    def run(self, target: str) -> None:
        v = self.salt % 4
        if self.case.state == S.EXCLUSION_PROPOSED and target not in (S.EXCLUSION_PROPOSED, S.EXCLUDED):
            # An auto-proposed case that is not meant to stay there: the manager rejects the proposal.
            self.fire("reject_exclusion", self.manager, note="Master keys were recovered from the SMSO.")
            if target == S.RAISED:
                return
        if target == S.RAISED:
            return
        if self.case.state == S.RAISED:
            self.triage()
        if target == S.TRIAGED:
            if v == 0 and self.case.check_type.retryable:
                self.retry("resolve")
                self.fire("reopen", self.agent, note="Still no readings after the migration; reopening.")
            elif v == 1:
                self.fire("escalate", self.operator, incident_reference=f"INC{700000 + self.plan.n}")
                self.fire("de_escalate", self.operator, note="Incident resolved; back to triage.")
            elif v == 2 and self.case.check_type.retryable and not _auto_rescheduled(self.case.check_type):
                self.retry("retry_failed")
            elif v == 3:
                self.fire("propose_exclusion", self.operator, excluded_category=ExcludedCategory.NO_WAN_BEFORE_MIGRATION)
                self.fire("reject_exclusion", self.manager, note="The SMSO restored WAN; keep pursuing migration.")
        elif target == S.AWAITING_DCC:
            if v % 2:
                self.user_corrects()
                self.fire("hand_back_to_dcc", self.agent, note="Corrected the MA record; over to DCC.")
            else:
                self.fire("await_dcc", self.operator)
        elif target == S.AWAITING_USER:
            self.fire("await_user", self.operator)
            self.note(self.operator, NoteKind.COMMUNICATION, "Please arrange a site visit to check the HAN.")
        elif target == S.AWAITING_SMSO:
            self.fire("await_smso", self.operator)
        elif target == S.RETRY_SCHEDULED:
            self.retry(None)
        elif target == S.RETRYING:
            self.retry("start")
        elif target == S.ESCALATED:
            self.fire(("await_dcc", "await_smso", "await_user", "await_dcc")[v], self.operator)
            self.fire("escalate", self.operator, incident_reference=f"INC{800000 + self.plan.n}",
                      note="Live-service impact: raised on the DCC incident route.")
        elif target in (S.EXCLUSION_PROPOSED, S.EXCLUDED):
            if self.case.state != S.EXCLUSION_PROPOSED:
                self.fire("propose_exclusion", self.operator,
                          excluded_category=(ExcludedCategory.NO_WAN_DURING_MIGRATION,
                                             ExcludedCategory.NO_WAN_BEFORE_MIGRATION,
                                             ExcludedCategory.MIGRATION_ATTEMPTS_EXHAUSTED)[v % 3],
                          note="Persistent failure: proposing exclusion.")
            if target == S.EXCLUDED:
                self.fire("exclude", self.manager, note="Exclusion confirmed (TMAD clause 18).")
        elif target in (S.RESOLVED, S.RESOLVED_PARTIAL):
            self.retry("resolve" if target == S.RESOLVED else "resolve_partial")
        elif target == S.WITHDRAWN:
            self.fire("await_user", self.operator)
            self.fire("withdraw", self.agent, note="The meter was replaced with a SMETS2 meter.")
        elif target == S.CLOSED:
            if v == 0:
                self.fire("await_user", self.operator)
                self.fire("withdraw", self.agent, note="Premises demolished.")
            else:
                self.retry("resolve")
            self.fire("close", self.operator if v % 2 else self.manager)


class _ScriptedS1SP:
    """An S1SP that gives one fixed answer, so the demo's outcomes are deterministic."""

    def __init__(self, result: Any) -> None:
        self.result = result

    def establish_session(self, installation: Any, *, timeout: float, idempotency_key: str = "", wake_sms: int = 0) -> Any:
        return self.result


def _run_retry_engine(result: Any) -> None:
    """Claim the due session attempts (only the one just scheduled: see seed_demo's passes) and run them."""
    from retries.services.claiming import claim_batch
    from retries.services.running import session_attempt_run

    for item in claim_batch(limit=1000):
        session_attempt_run(attempt_id=item.pk, claim_token=item.token, worker="seed_demo", client=_ScriptedS1SP(result))


def _auto_rescheduled(check: Check) -> bool:
    # The engine reschedules communications failures by itself (the case would not rest in triage).
    from retries.services.running import AUTO_RESCHEDULE_CATEGORIES, AUTO_RESCHEDULE_CHECKS

    return check.category in AUTO_RESCHEDULE_CATEGORIES or check.code in AUTO_RESCHEDULE_CHECKS


def _raise_and_script(
    plan: InstallationPlan, installation: Installation, checks: list[Check], people: dict[str, Any], which: int
) -> Case | None:
    from cases.services import case_assign, case_raise

    target = plan.target if which == 0 else plan.second_target
    assert target is not None
    avoid = frozenset(
        Case.objects.filter(installation=installation, state__in=OPEN_STATES).values_list("check_type_id", flat=True)
    )
    check = _pick_check(checks, plan, target, salt=plan.variant + which * 11, avoid=avoid)
    occurred = timezone.now() - timedelta(days=plan.occurred_days_ago, hours=3 + which * 3, minutes=plan.n % 60)
    result = case_raise(
        installation=installation,
        check=check,
        source=SOURCE,
        source_event_id=f"demo-{plan.n}-{which}",
        occurred_at=occurred,
        detail=f"{check.code}: {check.title}",
    )
    if not result.created:
        return None  # seen before (a second run) or merged into an open case: nothing more to do
    if plan.variant % 4 == 0 and target != S.EXCLUSION_PROPOSED:
        case_raise(
            installation=installation,
            check=check,
            source=SOURCE,
            source_event_id=f"demo-{plan.n}-{which}-repeat",
            occurred_at=occurred + timedelta(hours=2),
            detail="The same failure was reported again.",
        )
    script = _Script(Case.objects.select_related("check_type", "installation").get(pk=result.case.pk), plan,
                     people, salt=plan.variant + which)
    script.run(target)
    if target == S.RAISED and plan.variant % 3 == 0:
        case_assign(case=script.case.pk, assignee=people["dcc.operator"], actor=people["dcc.manager"])
    return script.case


def seed_demo(*, installations: int = DEFAULT_INSTALLATIONS, stdout: Any = None) -> dict[str, int]:
    """Create the demo world. Idempotent; returns counts of what this run created."""
    if not Check.objects.exists():
        from django.core.management import call_command

        call_command("load_catalogue", stdout=stdout)
    plans = plan_installations(installations)
    checks = list(Check.objects.in_force().prefetch_related("steps").order_by("code"))
    counts: Counter[str] = Counter()
    with transaction.atomic():
        orgs, counts["organisations"] = _organisations()
        people, counts["accounts"] = _accounts(orgs)
        by_n, counts["installations"], counts["devices"] = _installations(plans, orgs)
        # Two passes: retries left scheduled (due now) come last, so that the engine runs driving the
        # other cases' outcomes claim only the attempt they have just scheduled.
        for last_pass in (False, True):
            for plan in plans:
                for which, target in enumerate((plan.target, plan.second_target)):
                    if target is None or (target == S.RETRY_SCHEDULED) != last_pass:
                        continue
                    if _raise_and_script(plan, by_n[plan.n], checks, people, which) is not None:
                        counts["cases"] += 1
    return dict(counts)
