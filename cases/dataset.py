"""Reproducible national-scale data for benchmarks, load and fault tests (issue 7).

``generate_dataset(spec)`` (and ``manage.py generate_dataset``) fills the database with a realistic,
seeded mix: the DCC, one SMSO per cohort, ``spec.users`` User (supplier) organisations with people,
installations (valid MPANs with check digits, MPRNs, EUI-64 devices), cases over every state, stage,
check and cohort (most closed or resolved, a working set open), each with its checklist, its raised
event (plus one event for its current state and one per repeat occurrence) and its occurrences.

How it is fast on PostgreSQL: installations and cases are generated in Python in chunks and streamed
with ``COPY`` (psycopg 3 ``cursor.copy``) with explicit ids; the rows derived from them (devices,
checklist items, events, occurrences) are produced by the server with set-based ``INSERT ... SELECT``
so their text never crosses the wire. Identity sequences are moved past the explicit ids and the
tables are ANALYZEd at the end. On SQLite it falls back to ``bulk_create`` (small N only).

Reproducible: the same seed, sizes and anchor date give the same rows (ids included after
``truncate``). Times are spread backwards from ``anchor`` (default: today, 00:00 UTC).

How the generated world is shaped (the numbers are the module constants below):

* Supplier sizes follow a Zipf-like curve (a few big suppliers, a long tail).
* Case ``i`` sits on installation ``i mod N``; installations are drawn independently, so this is a
  random pairing. Only the first round (``i < N``) may be open, so no installation has two open
  cases and the one-open-case-per-installation-and-check constraint holds by construction; later
  rounds (when cases > installations) are finished or closed history.
* Each installation's migration status and attempt count agree with its first-round case.
* The audit trail of a case is compressed to: RAISED, one OCCURRENCE per repeat, and (when the case
  has moved on) one TRANSITION event from RAISED to its current state attributed to the assignee.
  The intermediate transitions are not invented: they would triple the events table without
  changing what the benchmarks read (the newest events of a case and counts per kind).

Accounts (for benchmarks and load tests; all with :data:`DATASET_PASSWORD`): see :func:`usernames`.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from cases.domain import (
    FINISHED_STATES,
    OPEN_STATES,
    CaseState,
    Cohort,
    ExcludedCategory,
    InstallationType,
    MigrationStatus,
    OrganisationKind,
    Party,
    Priority,
    Role,
)
from cases.models import (
    Case,
    CaseEvent,
    CaseOccurrence,
    Check,
    ChecklistItem,
    Device,
    Installation,
    Membership,
    Organisation,
)
from cases.validators import mpan_check_digit

DATASET_PASSWORD = "mehr-dataset-password"
ORG_PREFIX = "gen-"
SOURCE = "generated"

# --- the shape of the world ([design] guesses from the public programme figures) -----------
COHORT_WEIGHTS = {Cohort.IOC: 10, Cohort.MOC_MDS: 25, Cohort.MOC_SECURE: 40, Cohort.FOC: 25}
SMSO_BY_COHORT = {
    Cohort.IOC: ("gen-smso-ioc", "Secure (IOC)"),
    Cohort.MOC_MDS: ("gen-smso-mds", "MDS"),
    Cohort.MOC_SECURE: ("gen-smso-secure", "Secure"),
    Cohort.FOC: ("gen-smso-foc", "EDMI"),
}
DEVICE_MODELS = {
    Cohort.IOC: ("Secure Liberty 100", "Secure Europa"),
    Cohort.MOC_MDS: ("Landis+Gyr E470", "Landis+Gyr G470"),
    Cohort.MOC_SECURE: ("Secure Liberty 110", "Secure Europa G"),
    Cohort.FOC: ("EDMI Atlas Mk7", "EDMI Gas 1"),
}
TYPE_WEIGHTS = {InstallationType.ACTIVE: 84, InstallationType.DORMANT: 13, InstallationType.MIXED: 3}
FUEL_WEIGHTS = {"dual": 72, "elec": 25, "gas": 3}
# The 14 GB distribution areas: (MPAN distributor id, region, WAN provider).
REGIONS = [
    (10, "Eastern", "Telefonica"),
    (11, "East Midlands", "Telefonica"),
    (12, "London", "Telefonica"),
    (13, "Merseyside and North Wales", "Arqiva"),
    (14, "West Midlands", "Telefonica"),
    (15, "North Eastern", "Arqiva"),
    (16, "North Western", "Arqiva"),
    (17, "North of Scotland", "Arqiva"),
    (18, "South of Scotland", "Arqiva"),
    (19, "South Eastern", "Telefonica"),
    (20, "Southern", "Telefonica"),
    (21, "South Wales", "Telefonica"),
    (22, "South Western", "Telefonica"),
    (23, "Yorkshire", "Arqiva"),
]
# Installations without a case.
STATUS_WEIGHTS_NO_CASE = {
    MigrationStatus.MIGRATED: 78,
    MigrationStatus.PENDING: 12,
    MigrationStatus.SCHEDULED: 6,
    MigrationStatus.IN_PROGRESS: 1,
    MigrationStatus.ROLLED_BACK: 1,
    MigrationStatus.PARTIALLY_MIGRATED: 2,
}
# Case states: most cases are history (closed), a working set is open.
STATE_WEIGHTS = {
    CaseState.RAISED: 1.5,
    CaseState.TRIAGED: 1.5,
    CaseState.AWAITING_DCC: 1.5,
    CaseState.AWAITING_USER: 3.0,
    CaseState.AWAITING_SMSO: 1.0,
    CaseState.RETRY_SCHEDULED: 1.5,
    CaseState.RETRYING: 0.3,
    CaseState.ESCALATED: 0.4,
    CaseState.EXCLUSION_PROPOSED: 0.8,
    CaseState.RESOLVED: 5.0,
    CaseState.RESOLVED_PARTIAL: 0.5,
    CaseState.EXCLUDED: 1.0,
    CaseState.WITHDRAWN: 0.5,
    CaseState.CLOSED: 81.0,
}
HISTORY_STATE_WEIGHTS = {CaseState.CLOSED: 95, CaseState.RESOLVED: 3, CaseState.EXCLUDED: 1, CaseState.WITHDRAWN: 1}
STAGE_WEIGHTS = {
    "COMMUNICATIONS": 30,
    "PRE_MIGRATION": 20,
    "DATA_VALIDATION": 15,
    "MA_RECORD_VALIDATION": 12,
    "DEVICE_HAN": 8,
    "CREDENTIALS": 4,
    "COMMISSIONING": 4,
    "POST_MIGRATION": 4,
    "MA_FILE_VALIDATION": 3,
}
CHECK_BOOST = {"CM001": 4, "CM002": 2, "PM001": 3, "MA110": 2, "GT01": 2, "DV001": 1.5}
PRIORITY_WEIGHTS = {Priority.NORMAL: 80, Priority.HIGH: 12, Priority.LOW: 6, Priority.CRITICAL: 2}
EXCLUDED_WEIGHTS = {
    ExcludedCategory.NO_WAN_DURING_MIGRATION: 40,
    ExcludedCategory.MIGRATION_ATTEMPTS_EXHAUSTED: 30,
    ExcludedCategory.NO_WAN_BEFORE_MIGRATION: 20,
    ExcludedCategory.SUPPLIER_DECLARED_UNMIGRATABLE: 5,
    ExcludedCategory.MISSING_MASTER_KEYS: 5,
}
OCCURRENCE_WEIGHTS = {1: 70, 2: 18, 3: 7, 4: 2, 5: 1.5, 6: 1, 8: 0.5}
DCC_OPERATORS = 8
COHORTS = list(Cohort.values)
INSTALLATION_TYPES = list(InstallationType.values)

OWNER_BY_STATE = {
    CaseState.AWAITING_DCC: Party.DCC,
    CaseState.AWAITING_USER: Party.USER,
    CaseState.AWAITING_SMSO: Party.SMSO,
    CaseState.RETRY_SCHEDULED: Party.DCC,
    CaseState.RETRYING: Party.DCC,
    CaseState.EXCLUSION_PROPOSED: Party.DCC,
}
STATUS_BY_STATE = {
    CaseState.RETRY_SCHEDULED: MigrationStatus.SCHEDULED,
    CaseState.RETRYING: MigrationStatus.IN_PROGRESS,
    CaseState.RESOLVED: MigrationStatus.MIGRATED,
    CaseState.RESOLVED_PARTIAL: MigrationStatus.PARTIALLY_MIGRATED,
    CaseState.EXCLUDED: MigrationStatus.EXCLUDED,
    CaseState.WITHDRAWN: MigrationStatus.PENDING,
}
RESOLUTIONS = {
    CaseState.RESOLVED: "Migrated on retry.",
    CaseState.RESOLVED_PARTIAL: "Electricity migrated; gas excluded.",
    CaseState.EXCLUDED: "Excluded from migration.",
    CaseState.WITHDRAWN: "Withdrawn: raised in error.",
}
ESCALATED_FROM = (CaseState.TRIAGED, CaseState.AWAITING_DCC, CaseState.AWAITING_USER, CaseState.AWAITING_SMSO)

INSTALLATION_COLUMNS = (
    "id", "responsible_supplier_id", "smso_id", "cohort", "installation_type", "mpan", "mprn", "region",
    "comms_provider", "migration_status", "migration_attempt_count", "excluded_category", "migrated_at",
    "created_at", "updated_at",
)  # fmt: skip
CASE_COLUMNS = (
    "id", "installation_id", "supplier_id", "check_type_id", "stage", "category", "owner_party", "assignee_id",
    "priority", "state", "state_before_escalation", "occurrence_count", "first_occurred_at", "last_occurred_at",
    "resolution", "incident_reference", "excluded_category", "version", "raised_at", "updated_at",
    "finished_at", "closed_at", "cohort", "installation_type",
)  # fmt: skip
EUI64_BASE = 0x001BC50000000000  # generated devices never collide with the factories' 70-B3-D5 range
DEVICE_SLOTS = 8  # EUI-64 = base + installation id * 8 + slot


@dataclass(frozen=True)
class DatasetSpec:
    installations: int
    cases: int
    session_attempts: int = 0
    users: int = 8  # User (supplier) organisations
    seed: int = 1
    anchor: date | None = None  # "today" for the time distribution; default today (UTC)
    devices: bool = True
    chunk: int = 50_000


@dataclass
class DatasetResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def usernames(users: int) -> dict[str, list[str]]:
    """The generated accounts by role (DCC ones, then per User organisation in order)."""
    names: dict[str, list[str]] = {
        Role.DCC_MANAGER: ["gen-dcc-manager"],
        Role.DCC_OPERATOR: [f"gen-dcc-operator-{i:02d}" for i in range(1, DCC_OPERATORS + 1)],
        Role.DCC_INTEGRATION: ["gen-dcc-integration"],
        Role.USER_AGENT: [],
        Role.USER_VIEWER: [],
        Role.USER_INTEGRATION: [],
    }
    for i in range(1, users + 1):
        names[Role.USER_AGENT].append(f"gen-u{i:03d}-agent")
        names[Role.USER_VIEWER].append(f"gen-u{i:03d}-viewer")
        names[Role.USER_INTEGRATION].append(f"gen-u{i:03d}-integration")
    return names


def supplier_code(i: int) -> str:
    return f"gen-u{i:03d}"


def mpan_for(index: int, distributor: int, seed: int) -> str:
    # A bijection of the index onto 10 digits (7919 is coprime with 10**10): unique per index.
    body = (index * 7919 + seed * 104729) % 10**10
    first = f"{distributor:02d}{body:010d}"
    return first + str(mpan_check_digit(first))


def mprn_for(index: int, seed: int) -> str:
    return str(1_000_000_000 + (index * 7907 + seed * 7) % 9_000_000_000)


def eui64_for(installation_id: int, slot: int) -> str:
    raw = f"{EUI64_BASE + installation_id * DEVICE_SLOTS + slot:016X}"
    return "-".join(raw[i : i + 2] for i in range(0, 16, 2))


class _Picker:
    """Weighted choice from one uniform draw (bisect on cumulative weights)."""

    def __init__(self, weights: dict[Any, float] | Sequence[tuple[Any, float]]) -> None:
        items = list(weights.items()) if isinstance(weights, dict) else list(weights)
        self.values = [v for v, _ in items]
        total = 0.0
        self.cum: list[float] = []
        for _, w in items:
            total += w
            self.cum.append(total)
        self.total = total

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.total)]


@dataclass(frozen=True)
class _CheckInfo:
    id: int
    code: str
    stage: str
    category: str
    acting_party: str
    retryable: bool
    exclusion_category: str | None


class _World:
    """Organisations, people and catalogue the rows point at."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self.dcc, self.smso_by_cohort, self.suppliers, self.operators = _ensure_parties(spec.users)
        checks = list(Check.objects.select_related("introduced_in", "retired_in").order_by("code"))
        if not checks:
            from cases.catalogue.data import CHECKS, MEHR_VERSIONS
            from cases.services.catalogue import catalogue_load

            catalogue_load(versions=MEHR_VERSIONS, checks=CHECKS)
            checks = list(Check.objects.select_related("introduced_in", "retired_in").order_by("code"))
        anchor = spec.anchor or datetime.now(UTC).date()
        by_stage: dict[str, int] = {}
        for c in checks:
            by_stage[c.stage] = by_stage.get(c.stage, 0) + 1
        self.open_checks: dict[str, _Picker] = {}
        self.any_checks: dict[str, _Picker] = {}
        for cohort in Cohort.values:
            current, every = [], []
            for c in checks:
                if not c.applies_to(cohort):
                    continue
                info = _CheckInfo(c.pk, c.code, c.stage, c.category, c.acting_party, c.retryable, c.exclusion_category)
                weight = STAGE_WEIGHTS.get(c.stage, 1) / by_stage[c.stage] * CHECK_BOOST.get(c.code, 1)
                every.append((info, weight))
                if not c.is_retired(on=anchor):
                    current.append((info, weight))
            self.open_checks[cohort] = _Picker(current)
            self.any_checks[cohort] = _Picker(every)
        n = len(self.suppliers)
        self.supplier_pick = _Picker([(s, 1 / (k + 1) ** 1.1) for k, s in enumerate(self.suppliers)] if n else [])


def _ensure_parties(users: int) -> tuple[Organisation, dict[str, Organisation], list[int], list[int]]:
    """DCC, SMSOs, User organisations and their people (idempotent, by code/username)."""
    dcc = Organisation.objects.filter(kind=OrganisationKind.DCC).order_by("pk").first()
    if dcc is None:
        dcc = Organisation.objects.create(kind=OrganisationKind.DCC, code="dcc", name="Data Communications Company")
    smsos = {}
    for cohort, (code, name) in SMSO_BY_COHORT.items():
        smsos[cohort], _ = Organisation.objects.get_or_create(
            code=code, defaults={"kind": OrganisationKind.SMSO, "name": name}
        )
    suppliers = []
    for i in range(1, users + 1):
        org, _ = Organisation.objects.get_or_create(
            code=supplier_code(i), defaults={"kind": OrganisationKind.USER, "name": f"Generated Supplier {i:03d}"}
        )
        suppliers.append(org)
    User = get_user_model()
    names = usernames(users)
    existing = set(User.objects.filter(username__startswith=ORG_PREFIX).values_list("username", flat=True))
    password = make_password(DATASET_PASSWORD)  # hashed once, shared by every generated account
    wanted: list[tuple[str, str, Organisation]] = []
    for role, people in names.items():
        for k, username in enumerate(people):
            org = dcc if role.startswith("DCC") else suppliers[k]
            wanted.append((username, role, org))
    new = [(u, r, o) for u, r, o in wanted if u not in existing]
    User.objects.bulk_create(
        User(username=u, password=password, email=f"{u}@example.org", first_name=u.split("-", 1)[1].title())
        for u, _, _ in new
    )
    ids = dict(User.objects.filter(username__in=[u for u, _, _ in new]).values_list("username", "pk"))
    Membership.objects.bulk_create(Membership(user_id=ids[u], organisation=o, role=r) for u, r, o in new)
    operators = list(
        User.objects.filter(username__in=names[Role.DCC_OPERATOR]).order_by("username").values_list("pk", flat=True)
    )
    return dcc, smsos, [s.pk for s in suppliers], operators


# --- row generation -----------------------------------------------------------------------------


class _Rows:
    """Generates installation and case rows chunk by chunk from one seeded stream."""

    def __init__(self, spec: DatasetSpec, world: _World, inst_offset: int, case_offset: int) -> None:
        self.spec, self.world = spec, world
        self.rng = random.Random(spec.seed)
        self.inst_offset, self.case_offset = inst_offset, case_offset
        anchor = spec.anchor or datetime.now(UTC).date()
        self.now = datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC)
        self.cohort = _Picker(COHORT_WEIGHTS)
        self.itype = _Picker(TYPE_WEIGHTS)
        self.fuel = _Picker(FUEL_WEIGHTS)
        self.status = _Picker(STATUS_WEIGHTS_NO_CASE)
        self.state = _Picker(STATE_WEIGHTS)
        self.history_state = _Picker(HISTORY_STATE_WEIGHTS)
        self.priority = _Picker(PRIORITY_WEIGHTS)
        self.excluded = _Picker(EXCLUDED_WEIGHTS)
        self.occurrences = _Picker(OCCURRENCE_WEIGHTS)
        self.supplier_of = array("q")  # per installation index, only when cases > installations
        self.cohort_of = bytearray()
        self.type_of = bytearray()

    def chunks(self) -> Iterator[tuple[list[tuple], list[tuple]]]:
        """(installation rows, case rows) per chunk; first-round cases travel with their installation."""
        n, m, size = self.spec.installations, self.spec.cases, self.spec.chunk
        remember = m > n
        for lo in range(0, n, size):
            hi = min(n, lo + size)
            installs, cases = [], []
            for idx in range(lo, hi):
                inst = self._installation(idx)
                if remember:
                    self.supplier_of.append(inst["supplier"])
                    self.cohort_of.append(COHORTS.index(inst["cohort"]))
                    self.type_of.append(INSTALLATION_TYPES.index(inst["type"]))
                case = self._case(idx, inst, first_round=True) if idx < m else None
                installs.append(self._installation_row(inst, case))
                if case is not None:
                    cases.append(case)
            yield installs, cases
        # Later rounds (cases > installations): history on already generated installations.
        self.rng = random.Random(self.spec.seed * 7_919 + 1)
        for lo in range(n, m, size):
            cases = []
            for i in range(lo, min(m, lo + size)):
                idx = i % n
                inst = self._installation_lite(idx)
                cases.append(self._case(i, inst, first_round=False))
            yield [], cases

    def _installation(self, idx: int) -> dict[str, Any]:
        rng = self.rng
        cohort = self.cohort(rng)
        fuel = self.fuel(rng)
        distributor, region, wan = REGIONS[int(rng.random() * len(REGIONS))]
        return {
            "id": self.inst_offset + idx + 1,
            "idx": idx,
            "supplier": self.world.supplier_pick(rng),
            "cohort": cohort,
            "type": self.itype(rng),
            "mpan": mpan_for(self.inst_offset + idx, distributor, self.spec.seed) if fuel != "gas" else "",
            "mprn": mprn_for(self.inst_offset + idx, self.spec.seed) if fuel != "elec" else "",
            "region": region,
            "wan": wan,
            "created": self.now - timedelta(days=800 + rng.random() * 600),
        }

    def _installation_lite(self, idx: int) -> dict[str, Any]:
        # Later rounds need only who, which cohort and type, remembered compactly from the first round.
        return {
            "id": self.inst_offset + idx + 1,
            "supplier": self.supplier_of[idx],
            "cohort": COHORTS[self.cohort_of[idx]],
            "type": INSTALLATION_TYPES[self.type_of[idx]],
        }

    def _installation_row(self, inst: dict[str, Any], case: tuple | None) -> tuple:
        rng = self.rng
        excluded = None
        if case is None:
            status = self.status(rng)
            # migration_attempt_count counts *failed* migration attempts (retries.services.running).
            if status == MigrationStatus.PENDING:
                attempts = 0
            elif status in (MigrationStatus.FAILED, MigrationStatus.ROLLED_BACK):
                attempts = 1 + (rng.random() < 0.2)
            else:
                attempts = (rng.random() < 0.2) + (rng.random() < 0.05)
        else:
            state = case[9]
            if state in OPEN_STATES:
                status = STATUS_BY_STATE.get(state, MigrationStatus.FAILED)
                attempts = 1 + int(rng.random() * 4)  # 1..4: a retry is still allowed
            else:
                status = STATUS_BY_STATE.get(state, MigrationStatus.MIGRATED)
                attempts = 1 + int(rng.random() * 3)
            if case[16] and state in (CaseState.EXCLUDED, CaseState.CLOSED):
                status, excluded = MigrationStatus.EXCLUDED, case[16]
                if excluded == ExcludedCategory.MIGRATION_ATTEMPTS_EXHAUSTED:
                    attempts = 5
        created = inst["created"]
        # When it first migrated (retries.services.running sets it): the day its case was resolved, or for
        # an installation that migrated without a case, a day in the last ~10 months.
        migrated = None
        if status in (MigrationStatus.MIGRATED, MigrationStatus.PARTIALLY_MIGRATED):
            if case is not None and case[20] is not None:
                migrated = min(case[20], self.now - timedelta(minutes=1))
            else:
                migrated = self.now - timedelta(days=1 + rng.random() * 300)
            migrated = max(migrated, created + timedelta(days=1))
        return (
            inst["id"], inst["supplier"], self.world.smso_by_cohort[inst["cohort"]].pk, inst["cohort"],
            inst["type"], inst["mpan"], inst["mprn"], inst["region"], inst["wan"], status, attempts, excluded,
            migrated, created, created if case is None else max(created, case[19]),
        )  # fmt: skip

    def _case(self, i: int, inst: dict[str, Any], *, first_round: bool) -> tuple:
        rng, now, world = self.rng, self.now, self.world
        state = self.state(rng) if first_round else self.history_state(rng)
        is_open = state in OPEN_STATES
        check: _CheckInfo = (world.open_checks if is_open else world.any_checks)[inst["cohort"]](rng)
        if check.exclusion_category:
            # Raising these proposes exclusion at once (cases.services.raising).
            if is_open:
                state = CaseState.EXCLUSION_PROPOSED
            elif state != CaseState.CLOSED:
                state = CaseState.EXCLUDED
        elif not check.retryable and state in (CaseState.RETRY_SCHEDULED, CaseState.RETRYING):
            state = CaseState.AWAITING_USER
        excluded = ""
        if state in (CaseState.EXCLUSION_PROPOSED, CaseState.EXCLUDED) or (
            state == CaseState.CLOSED and rng.random() < 0.03
        ):
            excluded = check.exclusion_category or self.excluded(rng)
        count = self.occurrences(rng)
        day = 86_400.0
        if is_open:
            raised = now - timedelta(seconds=min(90 * day, rng.expovariate(1 / (8 * day))) + 600)
        elif state == CaseState.CLOSED:
            raised = now - timedelta(seconds=20 * day + rng.random() * 710 * day)
        else:
            raised = now - timedelta(seconds=14 * day + rng.random() * 16 * day)
        first = raised - timedelta(seconds=60 + rng.random() * 3_000)
        span = (now - raised).total_seconds()
        last = first if count == 1 else raised + timedelta(seconds=rng.random() * min(span, 3 * day) * 0.9)
        finished = closed = None
        if state in FINISHED_STATES:
            finished = now - timedelta(seconds=rng.random() * 13 * day + 60)
            finished = max(finished, last + timedelta(seconds=60))
            updated = finished
        elif state == CaseState.CLOSED:
            finished = raised + timedelta(seconds=rng.expovariate(1 / (5 * day)) + 3_600)
            closed = finished + timedelta(days=14, seconds=rng.random() * 3_600)
            updated = closed
        else:
            updated = last + timedelta(seconds=rng.random() * max(0.0, (now - last).total_seconds()) * 0.9)
        if state == CaseState.CLOSED:
            last = min(last, finished)
        priority = self.priority(rng)
        before = ""
        incident = ""
        if state == CaseState.ESCALATED:
            before = ESCALATED_FROM[int(rng.random() * len(ESCALATED_FROM))]
            incident = f"INC{1_000_000 + i}"
            priority = min(priority, Priority.HIGH)
        assignee = None
        if state != CaseState.RAISED:
            assignee = world.operators[int(rng.random() * len(world.operators))]
        resolution = RESOLUTIONS.get(state, "")
        if state == CaseState.CLOSED:
            resolution = "Excluded from migration." if excluded else "Migrated on retry."
        version = 1 if state == CaseState.RAISED else 2 + int(rng.random() * 5)
        return (
            self.case_offset + i + 1, inst["id"], inst["supplier"], check.id, check.stage, check.category,
            OWNER_BY_STATE.get(state, check.acting_party), assignee, priority, state, before, count, first, last,
            resolution, incident, excluded, version, raised, updated, finished, closed,
            inst["cohort"], inst["type"],  # copied from the installation (list filters)
        )  # fmt: skip


# --- writing ------------------------------------------------------------------------------------

DATA_TABLES = (
    "cases_slainterval", "cases_slaclock", "cases_caseevent", "cases_caseoccurrence", "cases_checklistitem", "cases_attachment", "cases_case",
    "cases_device", "cases_installation",
)  # fmt: skip


def dataset_truncate() -> None:
    """Empty every case, installation and attempt table, and remove the generated parties."""
    existing = connection.introspection.table_names()
    # The simulator's call log names session attempts by id; ids restart, so it goes too.
    tables = [t for t in (*DATA_TABLES, "retries_simulatorcall") if t in existing]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                # Deferred foreign-key checks still queued in this transaction (tests) must run first.
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                # CASCADE: tables of other apps that point at cases/installations (attempts, notifications).
                cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            with connection.cursor() as cur:
                # TRUNCATE … CASCADE by hand: these tables and every table that points at them,
                # transitively (session and migration attempts, pauses, notifications …), emptied
                # with the foreign-key checks deferred to the commit.
                cur.execute("PRAGMA defer_foreign_keys = ON")
                for table in _referencing_closure(cur, tables, existing):
                    cur.execute(f'DELETE FROM "{table}"')
        User = get_user_model()
        User.objects.filter(username__startswith=ORG_PREFIX).delete()
        # People from outside the dataset given a place in a generated organisation (benchmark
        # accounts, say) lose that membership with the organisation; the people themselves stay.
        Membership.objects.filter(organisation__code__startswith=ORG_PREFIX).delete()
        Organisation.objects.filter(code__startswith=ORG_PREFIX).delete()


def _referencing_closure(cur: Any, tables: list[str], existing: list[str]) -> list[str]:
    """``tables`` and every existing table with a foreign key to one of them, transitively."""
    referrers: dict[str, set[str]] = {}
    for table in existing:
        for _column, (_other_column, target) in connection.introspection.get_relations(cur, table).items():
            referrers.setdefault(target, set()).add(table)
    found, todo = list(tables), list(tables)
    while todo:
        for table in sorted(referrers.get(todo.pop(), ())):
            if table not in found:
                found.append(table)
                todo.append(table)
    return found


def generate_dataset(
    spec: DatasetSpec, *, truncate: bool = False, log: Callable[[str], None] | None = None, method: str = "auto"
) -> DatasetResult:
    """Fill the database; returns row counts and seconds per step.

    ``method``: "copy" (PostgreSQL only), "orm" (bulk_create, any database, small N) or "auto".
    Both write the same rows.
    """
    if method not in ("auto", "copy", "orm"):
        raise ValueError(f"Unknown method {method!r}.")
    log = log or (lambda message: None)
    result = DatasetResult()
    if truncate:
        t0 = time.perf_counter()
        dataset_truncate()
        result.seconds["truncate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    world = _World(spec)
    result.seconds["parties"] = time.perf_counter() - t0
    if spec.cases and not spec.installations:
        raise ValueError("Cases need installations: give --installations.")
    inst_offset = _max_id(Installation)
    case_offset = _max_id(Case)
    rows = _Rows(spec, world, inst_offset, case_offset)
    postgres = connection.vendor == "postgresql" and method != "orm"
    if method == "copy" and not postgres:
        raise ValueError("COPY needs PostgreSQL.")
    with transaction.atomic():
        dropped: list[str] = []
        if postgres:
            t0 = time.perf_counter()
            dropped = _prepare_bulk_load(spec)
            result.seconds["prepare"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_inst = n_case = 0
        for installs, cases in rows.chunks():
            if postgres:
                _copy("cases_installation", INSTALLATION_COLUMNS, installs)
                _copy("cases_case", CASE_COLUMNS, cases)
            else:
                Installation.objects.bulk_create(_models(Installation, INSTALLATION_COLUMNS, installs), batch_size=500)
                Case.objects.bulk_create(_models(Case, CASE_COLUMNS, cases), batch_size=500)
            n_inst += len(installs)
            n_case += len(cases)
            log(f"  installations {n_inst:,}  cases {n_case:,}")
        result.counts["installations"] = n_inst
        result.counts["cases"] = n_case
        result.seconds["installations+cases (copy)"] = time.perf_counter() - t0
        derived = _derive_postgres if postgres else _derive_python
        for name, count, seconds in derived(spec, world, inst_offset, case_offset):
            result.counts[name] = count
            result.seconds[name] = seconds
            log(f"  {name} {count:,} in {seconds:.1f} s")
        t0 = time.perf_counter()
        clocks, intervals = dataset_sla_clocks(case_offset=case_offset, postgres=postgres)
        result.counts["sla_clocks"], result.counts["sla_intervals"] = clocks, intervals
        result.seconds["sla_clocks"] = time.perf_counter() - t0
        log(f"  sla clocks {clocks:,} in {result.seconds['sla_clocks']:.1f} s")
        if spec.session_attempts:
            t0 = time.perf_counter()
            migrations, sessions = _session_attempts(spec, world, inst_offset, postgres, log)
            result.counts["migration_attempts"] = migrations
            result.counts["session_attempts"] = sessions
            result.seconds["session_attempts"] = time.perf_counter() - t0
        if connection.vendor == "postgresql":
            t0 = time.perf_counter()
            _reset_sequences()
            with connection.cursor() as cur:
                for definition in dropped:
                    cur.execute(definition)
                cur.execute("SET LOCAL session_replication_role = DEFAULT")
            result.seconds["indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            for table in DATA_TABLES + _extra_tables():
                cur.execute(f"ANALYZE {table}")
    result.seconds["analyze"] = time.perf_counter() - t0
    return result


def _prepare_bulk_load(spec: DatasetSpec) -> list[str]:
    """Make a big load fast, inside the load's transaction (everything is undone on failure).

    * Plain secondary indexes of a table that is small next to what is being added are dropped and
      rebuilt at the end (one sort instead of millions of inserts into the b-trees). Indexes that back
      a constraint (primary keys, unique constraints) stay; the partial unique index "one open case
      per installation and check" is rebuilt, so it still proves the data obeys it.
    * Foreign-key triggers are not fired (session_replication_role = replica, needs a superuser;
      skipped otherwise): the rows point at rows this load wrote itself or at existing parties, and
      tests/cases/test_dataset.py checks referential integrity afterwards.
    """
    adding = {
        "cases_installation": spec.installations,
        "cases_device": spec.installations * 4 if spec.devices else 0,
        "cases_case": spec.cases,
        "cases_caseoccurrence": spec.cases,
        "cases_checklistitem": spec.cases * 4,
        "cases_caseevent": spec.cases * 2,
    }
    for table in _extra_tables():
        adding[table] = spec.session_attempts
    dropped: list[str] = []
    with connection.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cur.fetchone()[0]:
            cur.execute("SET LOCAL session_replication_role = replica")
        for table, rows in adding.items():
            cur.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE relname = %s", [table])
            existing = cur.fetchone()[0]
            if rows < 10_000 or existing > rows:
                continue
            cur.execute(
                """
                SELECT ci.relname, pg_get_indexdef(ci.oid)
                FROM pg_index x
                JOIN pg_class ci ON ci.oid = x.indexrelid
                JOIN pg_class ct ON ct.oid = x.indrelid
                WHERE ct.relname = %s AND NOT x.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
                """,
                [table],
            )
            for name, definition in cur.fetchall():
                cur.execute(f'DROP INDEX "{name}"')
                dropped.append(definition)
    return dropped


def _max_id(model: type) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _copy(table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    if not rows:
        return
    with connection.cursor() as cur:
        cols = ", ".join(f'"{c}"' for c in columns)
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _models(model: type, columns: Sequence[str], rows: list[tuple]) -> list:
    names = [model._meta.get_field(c[:-3] if c.endswith("_id") and c != "id" else c).attname for c in columns]
    return [model(**dict(zip(names, row, strict=True))) for row in rows]


def _reset_sequences() -> None:
    with connection.cursor() as cur:
        for table in DATA_TABLES + _extra_tables():
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST((SELECT max(id) FROM {table}), 1), (SELECT max(id) IS NOT NULL FROM {table}))"
            )


def _extra_tables() -> tuple[str, ...]:
    """Tables of the retry engine, when it is installed."""
    if not _retries_installed():
        return ()
    return ("retries_migrationattempt", "retries_sessionattempt")


def _retries_installed() -> bool:
    from django.apps import apps

    return apps.is_installed("retries")


# Derived rows, set-based on the server. The SQL mirrors _derive_python.
_DEVICES_SQL = """
INSERT INTO cases_device (installation_id, eui64, device_type, model, firmware_version)
SELECT i.id,
       concat_ws('-', substr(h.x, 1, 2), substr(h.x, 3, 2), substr(h.x, 5, 2), substr(h.x, 7, 2),
                 substr(h.x, 9, 2), substr(h.x, 11, 2), substr(h.x, 13, 2), substr(h.x, 15, 2)),
       d.device_type,
       CASE WHEN d.device_type IN ('GSME', 'GPF') THEN m.gas_model ELSE m.elec_model END,
       '1.' || (i.id %% 7) || '.' || (i.id %% 3)
FROM cases_installation i
JOIN (VALUES %(models)s) AS m(cohort, elec_model, gas_model) ON m.cohort = i.cohort
JOIN (VALUES (0, 'ESME'), (1, 'CHF'), (2, 'GSME'), (3, 'GPF'), (4, 'IHD'), (5, 'PPMID'))
     AS d(slot, device_type)
  ON (d.slot = 0 AND i.mpan <> '') OR d.slot = 1 OR (d.slot IN (2, 3) AND i.mprn <> '')
     OR (d.slot = 4 AND i.id %% 10 < 7) OR (d.slot = 5 AND i.id %% 10 = 0)
CROSS JOIN LATERAL (SELECT upper(lpad(to_hex(%(base)s::bigint + i.id * %(slots)s + d.slot), 16, '0'))) AS h(x)
WHERE i.id > %(lo)s
"""
_OCCURRENCES_SQL = """
INSERT INTO cases_caseoccurrence (case_id, source, source_event_id, occurred_at, recorded_at, detail)
SELECT c.id, %(source)s, 'gen-' || c.id || '-' || n,
       c.first_occurred_at + (c.last_occurred_at - c.first_occurred_at) * ((n - 1)::float8 / GREATEST(c.occurrence_count - 1, 1)),
       c.first_occurred_at + (c.last_occurred_at - c.first_occurred_at) * ((n - 1)::float8 / GREATEST(c.occurrence_count - 1, 1)),
       ''
FROM cases_case c, generate_series(1, c.occurrence_count) AS n
WHERE c.id > %(lo)s
"""
_CHECKLIST_SQL = """
INSERT INTO cases_checklistitem (case_id, "order", party, kind, text, done, done_by_id, done_at)
SELECT c.id, s."order", s.party, s.kind, s.text, x.done,
       CASE WHEN NOT x.done THEN NULL WHEN s.party = 'USER' THEN coalesce(a.user_id, c.assignee_id)
            ELSE c.assignee_id END,
       CASE WHEN x.done THEN c.updated_at END
FROM cases_case c
JOIN cases_procedurestep s ON s.check_id = c.check_type_id
LEFT JOIN (SELECT organisation_id, min(user_id) AS user_id FROM cases_membership WHERE role = 'USER_AGENT'
           GROUP BY organisation_id) a ON a.organisation_id = c.supplier_id
CROSS JOIN LATERAL (SELECT c.state <> ALL(%(open)s) OR (c.state <> 'RAISED' AND s."order" <= c.id %% 3)) AS x(done)
WHERE c.id > %(lo)s
"""
_RAISED_EVENTS_SQL = """
INSERT INTO cases_caseevent (case_id, kind, actor_id, actor_organisation_id, actor_role, created_at, from_state,
                             to_state, transition, note_kind, visibility, body, data)
SELECT c.id, 'RAISED', NULL, %(dcc)s, 'SYSTEM', c.raised_at, '', 'RAISED', '', '', 'SHARED', '',
       jsonb_build_object('check', k.code, 'stage', c.stage)
FROM cases_case c JOIN cases_check k ON k.id = c.check_type_id
WHERE c.id > %(lo)s
"""
_OCCURRENCE_EVENTS_SQL = """
INSERT INTO cases_caseevent (case_id, kind, actor_id, actor_organisation_id, actor_role, created_at, from_state,
                             to_state, transition, note_kind, visibility, body, data)
SELECT o.case_id, 'OCCURRENCE', NULL, %(dcc)s, 'SYSTEM', o.occurred_at, '', '', '', '', 'SHARED', '',
       jsonb_build_object('source', o.source, 'source_event_id', o.source_event_id,
                          'occurred_at', to_char(o.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'))
FROM cases_caseoccurrence o
WHERE o.case_id > %(lo)s AND o.source = %(source)s AND o.source_event_id NOT LIKE '%%-1'
"""
_STATE_EVENTS_SQL = """
INSERT INTO cases_caseevent (case_id, kind, actor_id, actor_organisation_id, actor_role, created_at, from_state,
                             to_state, transition, note_kind, visibility, body, data)
SELECT c.id, 'TRANSITION', c.assignee_id, %(dcc)s, 'DCC_OPERATOR', c.updated_at, 'RAISED', c.state, '', '',
       'SHARED', 'History compressed by generate_dataset.', '{}'::jsonb
FROM cases_case c
WHERE c.id > %(lo)s AND c.state <> 'RAISED'
"""


def _derive_postgres(
    spec: DatasetSpec, world: _World, inst_offset: int, case_offset: int
) -> Iterator[tuple[str, int, float]]:
    models = ", ".join(
        f"('{cohort}', '{elec}', '{gas}')" for cohort, (elec, gas) in DEVICE_MODELS.items()
    )
    params = {
        "lo": case_offset,
        "source": SOURCE,
        "dcc": world.dcc.pk,
        "open": [str(s) for s in OPEN_STATES],
        "base": EUI64_BASE,
        "slots": DEVICE_SLOTS,
    }
    steps: list[tuple[str, str, dict[str, Any]]] = []
    if spec.devices:
        steps.append(("devices", _DEVICES_SQL % {**{"models": models}, **_literal_params(params, inst_offset)}, {}))
    steps += [
        ("occurrences", _OCCURRENCES_SQL, params),
        ("checklist_items", _CHECKLIST_SQL, params),
        ("events_raised", _RAISED_EVENTS_SQL, params),
        ("events_occurrence", _OCCURRENCE_EVENTS_SQL, params),
        ("events_state", _STATE_EVENTS_SQL, params),
    ]
    with connection.cursor() as cur:
        for name, sql, args in steps:
            t0 = time.perf_counter()
            cur.execute(sql, args or None)
            yield name, cur.rowcount, time.perf_counter() - t0


def _literal_params(params: dict[str, Any], inst_offset: int) -> dict[str, Any]:
    # The device statement is formatted locally (its VALUES list is built here); every value is an int.
    return {"base": int(params["base"]), "slots": int(params["slots"]), "lo": int(inst_offset)}


def _derive_python(
    spec: DatasetSpec, world: _World, inst_offset: int, case_offset: int
) -> Iterator[tuple[str, int, float]]:
    """The same derived rows as _derive_postgres, built with the ORM (SQLite; small N)."""
    if spec.devices:
        t0 = time.perf_counter()
        devices = []
        for inst in Installation.objects.filter(pk__gt=inst_offset).order_by("pk"):
            elec, gas = DEVICE_MODELS[inst.cohort]
            slots = [(1, "CHF")]
            if inst.mpan:
                slots.append((0, "ESME"))
            if inst.mprn:
                slots += [(2, "GSME"), (3, "GPF")]
            if inst.pk % 10 < 7:
                slots.append((4, "IHD"))
            if inst.pk % 10 == 0:
                slots.append((5, "PPMID"))
            for slot, kind in sorted(slots):
                devices.append(
                    Device(
                        installation_id=inst.pk,
                        eui64=eui64_for(inst.pk, slot),
                        device_type=kind,
                        model=gas if kind in ("GSME", "GPF") else elec,
                        firmware_version=f"1.{inst.pk % 7}.{inst.pk % 3}",
                    )
                )
        Device.objects.bulk_create(devices, batch_size=500)
        yield "devices", len(devices), time.perf_counter() - t0
    cases = list(Case.objects.filter(pk__gt=case_offset).select_related("check_type").order_by("pk"))
    t0 = time.perf_counter()
    occurrences, events = [], []
    for c in cases:
        span = c.last_occurred_at - c.first_occurred_at
        for n in range(1, c.occurrence_count + 1):
            at = c.first_occurred_at + span * ((n - 1) / max(c.occurrence_count - 1, 1))
            occurrences.append(
                CaseOccurrence(case_id=c.pk, source=SOURCE, source_event_id=f"gen-{c.pk}-{n}", occurred_at=at,
                               recorded_at=at)
            )  # fmt: skip
            if n > 1:
                events.append(
                    CaseEvent(case_id=c.pk, kind="OCCURRENCE", actor_organisation=world.dcc, actor_role="SYSTEM",
                              created_at=at,
                              data={"source": SOURCE, "source_event_id": f"gen-{c.pk}-{n}",
                                    "occurred_at": at.isoformat()})
                )  # fmt: skip
    CaseOccurrence.objects.bulk_create(occurrences, batch_size=500)
    yield "occurrences", len(occurrences), time.perf_counter() - t0
    t0 = time.perf_counter()
    steps_by_check: dict[int, list] = {}
    items = []
    # Who ticked a step: the supplier's agent for User steps, the DCC assignee otherwise.
    agents: dict[int, int] = {}
    for org_id, user_id in Membership.objects.filter(role=Role.USER_AGENT).order_by("user_id").values_list(
        "organisation_id", "user_id"
    ):
        agents.setdefault(org_id, user_id)
    for c in cases:
        if c.check_type_id not in steps_by_check:
            steps_by_check[c.check_type_id] = list(c.check_type.steps.order_by("order"))
        for s in steps_by_check[c.check_type_id]:
            done = c.state not in OPEN_STATES or (c.state != CaseState.RAISED and s.order <= c.pk % 3)
            items.append(
                ChecklistItem(case_id=c.pk, order=s.order, party=s.party, kind=s.kind, text=s.text, done=done,
                              done_by_id=(agents.get(c.supplier_id) or c.assignee_id if s.party == Party.USER
                                          else c.assignee_id) if done else None,
                              done_at=c.updated_at if done else None)
            )  # fmt: skip
    ChecklistItem.objects.bulk_create(items, batch_size=500)
    yield "checklist_items", len(items), time.perf_counter() - t0
    t0 = time.perf_counter()
    raised = [
        CaseEvent(case_id=c.pk, kind="RAISED", actor_organisation=world.dcc, actor_role="SYSTEM",
                  created_at=c.raised_at, to_state="RAISED", data={"check": c.check_type.code, "stage": c.stage})
        for c in cases
    ]  # fmt: skip
    state = [
        CaseEvent(case_id=c.pk, kind="TRANSITION", actor_id=c.assignee_id, actor_organisation=world.dcc,
                  actor_role="DCC_OPERATOR", created_at=c.updated_at, from_state="RAISED", to_state=c.state,
                  body="History compressed by generate_dataset.")
        for c in cases
        if c.state != CaseState.RAISED
    ]  # fmt: skip
    CaseEvent.objects.bulk_create(raised, batch_size=500)
    yield "events_raised", len(raised), time.perf_counter() - t0
    CaseEvent.objects.bulk_create(events, batch_size=500)
    yield "events_occurrence", len(events), 0.0
    CaseEvent.objects.bulk_create(state, batch_size=500)
    yield "events_state", len(state), 0.0


SLA_CLOCK_COLUMNS = (
    "id", "case_id", "party", "kind", "target_days", "started_at", "running_since", "banked_seconds", "due_at",
    "warn_at", "met_at", "stopped_at", "updated_at",
)  # fmt: skip
SLA_INTERVAL_COLUMNS = ("clock_id", "started_at", "ended_at", "end_reason")


def dataset_sla_clocks(*, case_offset: int = 0, postgres: bool | None = None) -> tuple[int, int]:
    """SLA clocks (and their intervals) for open cases above ``case_offset`` that have none, as the
    services would have left them; returns (clocks, intervals). Also backfills an older dataset.

    The compressed history (raised, then one transition at ``updated_at``) gives: a RAISED case has
    its DCC response and resolution clocks running since it was raised; a case DCC has moved on has
    its DCC response clock met at ``updated_at`` and its DCC resolution clock running (waiting on
    DCC) or paused with the working time it ran banked (waiting on the User, the SMSO, escalated);
    a case awaiting the User also has the User's two clocks running since ``updated_at``. Deadlines
    come from the same working calendar as the services (cases.services.sla._deadlines). Finished
    and closed cases get none (their clocks would all be stopped; nothing reads them).
    """
    from decimal import Decimal

    from django.conf import settings

    from cases.models import SlaClock, SlaInterval
    from cases.models.sla import ClockKind, ClockParty
    from cases.services.sla import _deadlines, working_seconds
    from cases.workdays import working_calendar

    postgres = connection.vendor == "postgresql" if postgres is None else postgres
    cal = working_calendar()
    waiting_on = settings.MEHR["SLA_WAITING_ON"]
    default_days = settings.MEHR["DEFAULT_SLA_WORKING_DAYS"]
    next_id = _max_id(SlaClock) + 1
    clocks: list[tuple] = []
    intervals: list[tuple] = []
    deadline_cache: dict[tuple[datetime, Decimal, float], tuple[datetime, datetime]] = {}

    def add(case_id: int, party: str, kind: str, target: Decimal, started: datetime, running: datetime | None,
            banked: float, met: datetime | None, ended: datetime | None, reason: str) -> None:
        nonlocal next_id
        due = warn = None
        if running is not None:
            key = (running, target, banked)
            if key not in deadline_cache:
                probe = SlaClock(target_days=target, started_at=started, running_since=running, banked_seconds=banked)
                _deadlines(probe, running, cal)
                deadline_cache[key] = (probe.due_at, probe.warn_at)
            due, warn = deadline_cache[key]
        # A met response clock is also stopped (met_at = stopped_at); a paused one is not.
        clocks.append((next_id, case_id, party, kind, target, started, running, banked, due, warn, met, met,
                       ended or running or started))  # fmt: skip
        intervals.append((next_id, running or started, ended, reason))
        next_id += 1

    open_cases = (
        Case.objects.filter(pk__gt=case_offset, state__in=[str(s) for s in OPEN_STATES])
        .exclude(sla_clocks__isnull=False)
        .order_by("pk")
        .values_list("pk", "state", "raised_at", "updated_at", "check_type__sla_response_days",
                     "check_type__sla_resolution_days")
    )  # fmt: skip
    for pk, state, raised, updated, response_days, resolution_days in open_cases.iterator(chunk_size=10_000):
        party = waiting_on.get(state, "")
        targets = {ClockKind.RESPONSE: Decimal(response_days if response_days is not None else default_days),
                   ClockKind.RESOLUTION: Decimal(resolution_days if resolution_days is not None else default_days)}
        if state == CaseState.RAISED:
            for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
                add(pk, ClockParty.DCC, kind, targets[kind], raised, raised, 0.0, None, None, "")
            continue
        moved = max(updated, raised)
        ran = working_seconds(cal, raised, moved)
        add(pk, ClockParty.DCC, ClockKind.RESPONSE, targets[ClockKind.RESPONSE], raised, None, ran, moved, moved, "met")
        if party == ClockParty.DCC:
            add(pk, ClockParty.DCC, ClockKind.RESOLUTION, targets[ClockKind.RESOLUTION], raised, moved, ran, None,
                None, "")  # fmt: skip
        else:
            add(pk, ClockParty.DCC, ClockKind.RESOLUTION, targets[ClockKind.RESOLUTION], raised, None, ran, None,
                moved, "paused")  # fmt: skip
        if party == ClockParty.USER:
            for kind in (ClockKind.RESPONSE, ClockKind.RESOLUTION):
                add(pk, ClockParty.USER, kind, targets[kind], moved, moved, 0.0, None, None, "")
    if postgres:
        _copy("cases_slaclock", SLA_CLOCK_COLUMNS, clocks)
        _copy("cases_slainterval", SLA_INTERVAL_COLUMNS, intervals)
        with connection.cursor() as cur:
            for table in ("cases_slaclock", "cases_slainterval"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"GREATEST((SELECT max(id) FROM {table}), 1), (SELECT max(id) IS NOT NULL FROM {table}))")  # fmt: skip
    else:
        SlaClock.objects.bulk_create(_models(SlaClock, SLA_CLOCK_COLUMNS, clocks), batch_size=500)
        SlaInterval.objects.bulk_create(_models(SlaInterval, SLA_INTERVAL_COLUMNS, intervals), batch_size=500)
    return len(clocks), len(intervals)


MIGRATION_ATTEMPT_COLUMNS = (
    "id", "installation_id", "kind", "number", "window_start", "window_end", "stage_reached", "outcome",
    "failure_check_id", "policy_id", "policy_revision", "requested_by_id", "reason", "sms_sent", "detail",
    "created_at", "started_at", "finished_at",
)  # fmt: skip
SESSION_ATTEMPT_COLUMNS = (
    "migration_attempt_id", "installation_id", "cohort", "number", "due_at", "state", "claim_token", "claims",
    "claimed_at", "lease_expires_at", "started_at", "finished_at", "timeout_seconds", "result_code",
    "result_detail", "sms_sent", "worker", "policy_id", "policy_revision",
)  # fmt: skip
CONNECTS_ON = {1: 80, 2: 14, 3: 6}  # which session attempt of a successful window connected


class _Attempts:
    """Migration windows and their session attempts, consistent with each installation's status.

    An installation with ``migration_attempt_count`` = f failed windows gets f FAILED windows (three
    refused or timed-out session attempts each), then, by status: MIGRATED → a SUCCEEDED window (it
    connected on attempt 1, 2 or 3), PARTIALLY_MIGRATED → PARTIAL (GT01), SCHEDULED → an open window
    with its first session attempt due after the anchor, IN_PROGRESS → an open window with one failed
    and one due attempt. Dormant installations start with a successful firmware-upgrade window. When
    more session attempts are asked for than the installations' histories hold, further passes add
    older failed windows and raise those installations' failed-attempt counts to match.
    """

    def __init__(self, spec: DatasetSpec, world: _World, now: datetime) -> None:
        from retries.models import RetryPolicy
        from retries.policies import DEFAULT_ACTIVE_POLICY, DEFAULT_DORMANT_POLICY

        self.rng = random.Random(spec.seed * 31 + 7)
        self.now = now
        policies = {p.name: p for p in RetryPolicy.objects.filter(name__in=[DEFAULT_ACTIVE_POLICY, DEFAULT_DORMANT_POLICY])}
        active = policies.get(DEFAULT_ACTIVE_POLICY) or RetryPolicy.objects.create(name=DEFAULT_ACTIVE_POLICY)
        self.active = active
        self.dormant = policies.get(DEFAULT_DORMANT_POLICY) or active
        codes = dict(Check.objects.filter(code__in=["CM001", "CM002", "GT01"]).values_list("code", "pk"))
        self.no_wan, self.timeout_check, self.gt01 = codes.get("CM001"), codes.get("CM002"), codes.get("GT01")
        self.connects_on = _Picker(CONNECTS_ON)
        self.next_id = 0
        self.migrations: list[tuple] = []
        self.sessions: list[tuple] = []

    def _window(self, iid: int, cohort: str, policy: Any, *, number: int, kind: str, start: datetime,
                outcome: str, connected_on: int = 0, failed_sessions: int = 3,
                connected_at: datetime | None = None) -> None:  # fmt: skip
        from retries.models import AttemptKind, MigrationOutcome, SessionState

        rng = self.rng
        self.next_id += 1
        mid = self.next_id
        end = start + timedelta(minutes=policy.window_length_minutes)
        interval = timedelta(seconds=policy.attempt_interval_seconds)
        timeout = policy.session_timeout_seconds
        sms = 0
        finished_at = None
        open_window = outcome in (MigrationOutcome.SCHEDULED, MigrationOutcome.IN_PROGRESS)
        sessions = connected_on or (1 if outcome == MigrationOutcome.SCHEDULED else failed_sessions)
        if outcome == MigrationOutcome.IN_PROGRESS:
            sessions = 2
        for n in range(1, sessions + 1):
            due = start + interval * (n - 1) + timedelta(seconds=rng.random() * 5)
            if open_window and (outcome == MigrationOutcome.SCHEDULED or n == 2):
                self.sessions.append((mid, iid, cohort, n, due, SessionState.SCHEDULED, None, 0, None, None, None,
                                      None, timeout, "", "", 0, "", policy.pk, policy.revision))  # fmt: skip
                continue
            started = due + timedelta(seconds=rng.random() * 2)
            if n == connected_on:
                state, code, finished_at = SessionState.CONNECTED, "OK", started + timedelta(seconds=20 + rng.random() * 100)
                if connected_at is not None:  # the installation's migrated_at: the two agree
                    finished_at = max(connected_at, started + timedelta(seconds=1))
            elif rng.random() < 0.6:
                state, code, finished_at = SessionState.TIMED_OUT, "TIMEOUT", started + timedelta(seconds=timeout)
            else:
                state, code, finished_at = SessionState.FAILED, "CH_UNREACHABLE", started + timedelta(seconds=5 + rng.random() * 30)
            sms += policy.wake_sms_per_attempt
            self.sessions.append((mid, iid, cohort, n, due, state, None, 1, due, None, started, finished_at, timeout,
                                  code, "", policy.wake_sms_per_attempt, "generated", policy.pk, policy.revision))  # fmt: skip
        stage, check = "", None
        if outcome == MigrationOutcome.SUCCEEDED:
            stage = "PRE_MIGRATION" if kind == AttemptKind.FIRMWARE_UPGRADE else "COMMISSIONING"
        elif outcome == MigrationOutcome.PARTIAL:
            stage, check = "DEVICE_HAN", self.gt01
        elif outcome == MigrationOutcome.FAILED:
            stage, check = "COMMUNICATIONS", self.no_wan
        elif outcome == MigrationOutcome.IN_PROGRESS:
            stage = "COMMUNICATIONS"
        self.migrations.append((
            mid, iid, kind, number, start, end, stage, outcome, check, policy.pk, policy.revision, None,
            "Generated history", sms, "", start - timedelta(days=1 + rng.random() * 5),
            None if outcome == MigrationOutcome.SCHEDULED else start, None if open_window else finished_at,
        ))  # fmt: skip

    def installation(self, iid: int, cohort: str, itype: str, status: str, failed: int,
                     migrated_at: datetime | None = None) -> int:  # fmt: skip
        """Windows of one installation; returns the next free window number. A migrated installation's
        successful window connects at its ``migrated_at``."""
        from retries.models import AttemptKind, MigrationOutcome

        rng, now = self.rng, self.now
        policy = self.dormant if itype == InstallationType.DORMANT else self.active
        final = {
            MigrationStatus.MIGRATED: MigrationOutcome.SUCCEEDED,
            MigrationStatus.PARTIALLY_MIGRATED: MigrationOutcome.PARTIAL,
            MigrationStatus.SCHEDULED: MigrationOutcome.SCHEDULED,
            MigrationStatus.IN_PROGRESS: MigrationOutcome.IN_PROGRESS,
        }.get(status)
        windows = failed + (final is not None)
        if not windows:
            return 1
        number = 1
        last = now - timedelta(days=1 + rng.random() * 300)
        if final in (MigrationOutcome.SCHEDULED, MigrationOutcome.IN_PROGRESS):
            last = now + timedelta(days=1 + rng.random() * 9)
        elif migrated_at is not None and final is not None:
            # Early enough that the third session attempt of the window could be the one that connected.
            last = migrated_at - timedelta(seconds=2 * policy.attempt_interval_seconds + 300)
        starts = [last - timedelta(days=2 * (windows - k) + rng.random()) for k in range(1, windows)] + [last]
        if itype == InstallationType.DORMANT and policy.firmware_upgrade_first:
            self._window(iid, cohort, policy, number=number, kind=AttemptKind.FIRMWARE_UPGRADE,
                         start=starts[0] - timedelta(days=3), outcome=MigrationOutcome.SUCCEEDED, connected_on=1)  # fmt: skip
            number += 1
        for k, start in enumerate(starts):
            is_final = final is not None and k == windows - 1
            outcome = final if is_final else MigrationOutcome.FAILED
            connected = self.connects_on(rng) if outcome in (MigrationOutcome.SUCCEEDED, MigrationOutcome.PARTIAL) else 0
            if outcome == MigrationOutcome.IN_PROGRESS:
                start = now + timedelta(hours=12)
            self._window(iid, cohort, policy, number=number, kind=AttemptKind.MIGRATION, start=start,
                         outcome=outcome, connected_on=connected,
                         connected_at=migrated_at if is_final and connected else None)  # fmt: skip
            number += 1
        return number

    def extra_failed(self, iid: int, cohort: str, itype: str, number: int, before: datetime) -> None:
        from retries.models import AttemptKind, MigrationOutcome

        policy = self.dormant if itype == InstallationType.DORMANT else self.active
        self._window(iid, cohort, policy, number=number, kind=AttemptKind.MIGRATION,
                     start=before, outcome=MigrationOutcome.FAILED)  # fmt: skip


def _session_attempts(
    spec: DatasetSpec, world: _World, inst_offset: int, postgres: bool, log: Callable[[str], None]
) -> tuple[int, int]:
    """Write exactly ``spec.session_attempts`` session attempts (and their migration windows)."""
    if not _retries_installed():
        raise ValueError("Session attempts need the retry engine (the retries app).")
    from retries.models import MigrationAttempt, SessionAttempt

    anchor = spec.anchor or datetime.now(UTC).date()
    gen = _Attempts(spec, world, datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC))
    gen.next_id = _max_id(MigrationAttempt)
    target = spec.session_attempts
    written = [0, 0]
    next_number: dict[int, int] = {}
    extra: dict[int, int] = {}

    def flush(final: bool = False) -> None:
        if not final and len(gen.sessions) < spec.chunk:
            return
        sessions = gen.sessions[: target - written[1]]
        keep = {row[0] for row in sessions}
        migrations = [row for row in gen.migrations if row[0] in keep] if len(sessions) < len(gen.sessions) else gen.migrations
        if postgres:
            _copy("retries_migrationattempt", MIGRATION_ATTEMPT_COLUMNS, migrations)
            _copy("retries_sessionattempt", SESSION_ATTEMPT_COLUMNS, sessions)
        else:
            MigrationAttempt.objects.bulk_create(_models(MigrationAttempt, MIGRATION_ATTEMPT_COLUMNS, migrations), batch_size=500)
            SessionAttempt.objects.bulk_create(_models(SessionAttempt, SESSION_ATTEMPT_COLUMNS, sessions), batch_size=500)
        written[0] += len(migrations)
        written[1] += len(sessions)
        gen.migrations, gen.sessions = [], []
        log(f"  migration attempts {written[0]:,}  session attempts {written[1]:,}")

    def installations() -> Iterator[tuple]:
        last = inst_offset
        while True:
            batch = list(
                Installation.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "cohort", "installation_type", "migration_status", "migration_attempt_count",
                             "migrated_at")[:spec.chunk]
            )
            if not batch:
                return
            yield from batch
            last = batch[-1][0]

    for iid, cohort, itype, status, failed, migrated_at in installations():
        if written[1] + len(gen.sessions) >= target:
            break
        next_number[iid] = gen.installation(iid, cohort, itype, status, failed, migrated_at)
        flush()
    rounds = 0
    while written[1] + len(gen.sessions) < target and any(n > 1 for n in next_number.values()):
        rounds += 1  # more history than the statuses imply: older failed windows
        for iid, cohort, itype, _status, _failed, _migrated in installations():
            if written[1] + len(gen.sessions) >= target:
                break
            if next_number.get(iid, 1) <= 1:  # never attempted (pending): stays without history
                continue
            gen.extra_failed(iid, cohort, itype, next_number[iid], gen.now - timedelta(days=400 + 3 * rounds))
            next_number[iid] += 1
            extra[iid] = extra.get(iid, 0) + 1
            flush()
    flush(final=True)
    if extra:
        # Keep each installation's failed-attempt count equal to its failed windows.
        by_add: dict[int, list[int]] = {}
        for iid, add in extra.items():
            by_add.setdefault(add, []).append(iid)
        from django.db.models import F

        for add, ids in by_add.items():
            for k in range(0, len(ids), 10_000):
                Installation.objects.filter(pk__in=ids[k : k + 10_000]).update(
                    migration_attempt_count=F("migration_attempt_count") + add
                )
    return written[0], written[1]


def current_counts() -> dict[str, int]:
    """What the database holds now (for bench.common.ensure_dataset)."""
    counts = {
        "installations": Installation.objects.count(),
        "cases": Case.objects.count(),
        "users": Organisation.objects.filter(code__startswith=f"{ORG_PREFIX}u", kind=OrganisationKind.USER).count(),
        "session_attempts": 0,
    }
    counts.update(_attempt_counts())
    return counts


def _attempt_counts() -> dict[str, int]:
    if not _retries_installed():
        return {}
    from retries.models import SessionAttempt

    return {"session_attempts": SessionAttempt.objects.count()}


def dataset_digest(limit: int | None = None) -> str:
    """A digest of the generated rows that does not depend on database ids of people (for tests)."""
    h = hashlib.sha256()
    qs = Case.objects.order_by("pk").values_list(
        "pk", "installation__mpan", "installation__mprn", "installation__cohort", "supplier__code",
        "check_type__code", "state", "assignee__username", "priority", "occurrence_count", "raised_at",
        "updated_at", "excluded_category",
    )  # fmt: skip
    for row in qs[:limit] if limit else qs:
        h.update(repr(row).encode())
    for row in Installation.objects.order_by("pk").values_list(
        "pk", "mpan", "mprn", "cohort", "migration_status", "migration_attempt_count", "region"
    ):
        h.update(repr(row).encode())
    return h.hexdigest()
