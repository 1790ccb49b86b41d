"""seed_demo: every state, stage and cohort; real audit trail; valid identifiers; idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from cases.demo import DEMO_ACCOUNTS
from cases.domain import (
    CaseState,
    Cohort,
    DeviceType,
    EventKind,
    InstallationType,
    OrganisationKind,
    Role,
    Stage,
    Visibility,
)
from cases.models import (
    Attachment,
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
from cases.roles import role_of
from cases.selectors import cases_visible_to

MODELS = (Organisation, Membership, Installation, Device, Case, CaseEvent, CaseOccurrence, ChecklistItem, Attachment, Check)


def _counts() -> dict[str, int]:
    counts = {m.__name__: m.objects.count() for m in MODELS}
    counts["users"] = get_user_model().objects.count()
    return counts


@pytest.fixture
def seeded(db, settings):  # type: ignore[no-untyped-def]
    # The demo hashes its published passwords with PBKDF2 (a light work factor); let tests verify them.
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


# One test: seeding takes a few seconds, so it is done once and everything is asserted on it.
def test_seed_demo_covers_everything_and_is_idempotent(seeded) -> None:  # type: ignore[no-untyped-def]
    assert "created 9 organisations" in seeded
    # The catalogue was empty, so it was loaded first.
    assert Check.objects.filter(code="MA110").exists()

    # Organisations: DCC, at least two Users, an SMSO per cohort, a DCO.
    kinds = list(Organisation.objects.values_list("kind", flat=True))
    assert kinds.count(OrganisationKind.DCC) == 1
    assert kinds.count(OrganisationKind.USER) >= 2
    assert OrganisationKind.DCO in kinds
    smso_by_cohort = {
        cohort: set(Installation.objects.filter(cohort=cohort).values_list("smso__code", flat=True))
        for cohort in Cohort.values
    }
    assert all(len(codes) == 1 for codes in smso_by_cohort.values())
    assert len({next(iter(c)) for c in smso_by_cohort.values()}) == len(Cohort.values)

    # Cases over every state, stage and cohort (and every state in every cohort), for both suppliers.
    assert set(Case.objects.values_list("state", flat=True)) == set(CaseState.values)
    assert set(Case.objects.values_list("stage", flat=True)) == set(Stage.values)
    assert set(Case.objects.values_list("installation__cohort", flat=True)) == set(Cohort.values)
    assert len(set(Case.objects.values_list("state", "installation__cohort"))) == len(CaseState.values) * len(Cohort.values)
    assert Case.objects.values("supplier").distinct().count() == 2
    assert 100 <= Case.objects.count() <= 400

    # Installations: a few hundred, every cohort and type, valid identifiers, every device type.
    assert Installation.objects.count() >= 200
    assert set(Installation.objects.values_list("installation_type", flat=True)) == set(InstallationType.values)
    for installation in Installation.objects.all()[:50]:
        installation.full_clean()
    for device in Device.objects.all()[:50]:
        device.full_clean()
    assert set(Device.objects.values_list("device_type", flat=True)) == set(DeviceType.values)

    # A real audit trail: every case has its RAISED event, every transition has an actor record,
    # DCC-internal notes exist, the system actor appears (retry engine transitions).
    assert CaseEvent.objects.filter(kind=EventKind.RAISED).count() == Case.objects.count()
    for case in Case.objects.exclude(state=CaseState.RAISED)[:40]:
        assert case.events.filter(kind=EventKind.TRANSITION, to_state=case.state).exists(), case
    assert CaseEvent.objects.filter(visibility=Visibility.INTERNAL).exists()
    assert CaseEvent.objects.filter(kind=EventKind.TRANSITION, actor__isnull=True).exists()
    assert CaseEvent.objects.filter(kind=EventKind.CHECKLIST).exists()
    assert CaseEvent.objects.filter(kind=EventKind.OCCURRENCE).exists()
    assert set(CaseEvent.objects.filter(kind=EventKind.TRANSITION).values_list("transition", flat=True)) >= {
        "triage", "await_dcc", "await_user", "await_smso", "hand_back_to_dcc", "schedule_retry", "start_retry",
        "resolve", "resolve_partial", "retry_failed", "escalate", "de_escalate", "propose_exclusion", "exclude",
        "reject_exclusion", "withdraw", "close", "reopen",
    }
    # Versions agree with the trail: every transition and assignment bumped it once.
    for case in Case.objects.all()[:40]:
        bumps = case.events.filter(kind__in=[EventKind.TRANSITION, EventKind.ASSIGNMENT]).count()
        assert case.version == 1 + bumps, case

    # Second run: nothing new anywhere.
    before = _counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "created 0 organisations, 0 accounts, 0 installations, 0 devices, 0 cases" in out.getvalue()
    assert _counts() == before

    # The demo accounts log in with their documented passwords and have their roles.
    roles = set()
    for username, password, role, org_code in DEMO_ACCOUNTS:
        user = authenticate(username=username, password=password)
        assert user is not None, username
        if role == "superuser":
            assert user.is_superuser and user.is_staff
        else:
            assert role_of(user) == role
            assert user.membership.organisation.code == org_code
            roles.add(role)
    assert roles == {r for r in Role.values if r != Role.SYSTEM}
    # Each supplier's accounts see only their own cases.
    northwind = authenticate(username="northwind.viewer", password="demo-northwind-viewer")
    visible = cases_visible_to(northwind)
    assert visible.exists()
    assert set(visible.values_list("supplier__code", flat=True)) == {"northwind"}


def test_readme_documents_every_demo_account() -> None:
    from pathlib import Path

    from django.conf import settings

    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    for username, password, _role, _org in DEMO_ACCOUNTS:
        assert f"| `{username}` | `{password}` |" in readme, username
