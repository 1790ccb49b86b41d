"""factory-boy factories for the whole suite."""

from __future__ import annotations

import random
from datetime import date

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from cases.domain import Category, Cohort, DeviceType, OrganisationKind, Party, Role, Stage, StepKind
from cases.models import (
    Case,
    Check,
    Device,
    Installation,
    MehrVersion,
    Membership,
    Organisation,
    ProcedureStep,
)
from cases.validators import mpan_check_digit

DEFAULT_PASSWORD = "correct-horse-battery-staple"


def make_mpan(seed: int) -> str:
    first = f"{(seed * 7919 + 1000000000) % 10**12:012d}"
    return first + str(mpan_check_digit(first))


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("code",)

    kind = OrganisationKind.USER
    code = factory.Sequence(lambda n: f"org{n}")
    name = factory.LazyAttribute(lambda o: f"Organisation {o.code}")


class DccFactory(OrganisationFactory):
    kind = OrganisationKind.DCC
    code = "dcc"
    name = "Data Communications Company"


class SupplierFactory(OrganisationFactory):
    kind = OrganisationKind.USER
    code = factory.Sequence(lambda n: f"supplier{n}")


class SmsoFactory(OrganisationFactory):
    kind = OrganisationKind.SMSO
    code = factory.Sequence(lambda n: f"smso{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.save()
        if not extracted:
            return
        organisation = kwargs.get("organisation")
        if organisation is None:
            organisation = DccFactory() if extracted.startswith("DCC") else SupplierFactory()
        Membership.objects.create(user=self, organisation=organisation, role=extracted)


def make_user(role: str, organisation: Organisation | None = None, **kwargs):  # type: ignore[no-untyped-def]
    return UserFactory(role=role, role__organisation=organisation, **kwargs)


class MehrVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MehrVersion
        django_get_or_create = ("version",)

    version = "1.0"
    published_on = date(2019, 6, 1)
    effective_from = date(2019, 7, 1)


class CheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Check
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"TST{n:03d}")
    stage = Stage.COMMUNICATIONS
    category = Category.COMMUNICATIONS
    title = factory.LazyAttribute(lambda c: f"Test check {c.code}")
    description = "A check made for tests."
    acting_party = Party.DCC
    retryable = True
    blocks_migration = True
    cohorts = factory.LazyFunction(lambda: list(Cohort.values))
    introduced_in = factory.SubFactory(MehrVersionFactory)

    @factory.post_generation
    def steps(self, create: bool, extracted: list | None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not create or self.steps.exists():
            return
        steps = extracted or [
            (Party.DCC, StepKind.INVESTIGATE, "Check the S1SP session logs for the installation."),
            (Party.USER, StepKind.INVESTIGATE, "Check the MA data held for the installation."),
            (Party.USER, StepKind.CORRECT, "Correct the MA data and resubmit."),
        ]
        ProcedureStep.objects.bulk_create(
            ProcedureStep(check_type=self, order=i, party=p, kind=k, text=t) for i, (p, k, t) in enumerate(steps, 1)
        )


class InstallationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Installation

    responsible_supplier = factory.SubFactory(SupplierFactory)
    smso = factory.SubFactory(SmsoFactory)
    cohort = Cohort.FOC
    installation_type = "ACTIVE"
    mpan = factory.Sequence(make_mpan)
    mprn = factory.Sequence(lambda n: f"{7000000 + n}")
    region = "North West"


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    installation = factory.SubFactory(InstallationFactory)
    eui64 = factory.Sequence(lambda n: "-".join(f"{(0x70B3D51F30000000 + n) >> s & 0xFF:02X}" for s in range(56, -8, -8)))
    device_type = DeviceType.ESME
    model = "Test ESME"
    firmware_version = "1.0.0"


def case_in_state(state: str, **kwargs) -> Case:  # type: ignore[no-untyped-def]
    """A case raised through the service, then put in a state for a test (bypassing the lifecycle)."""
    from cases.services import case_raise

    installation = kwargs.pop("installation", None) or InstallationFactory(**kwargs.pop("installation_kwargs", {}))
    check = kwargs.pop("check", None) or CheckFactory()
    result = case_raise(
        installation=installation,
        check=check,
        source="test",
        source_event_id=f"evt-{random.getrandbits(64):x}",
        occurred_at=timezone.now(),
    )
    Case.objects.filter(pk=result.case.pk).update(state=state, **kwargs)
    return Case.objects.get(pk=result.case.pk)


ROLES_WITH_ORG = [r for r in Role.values if r != Role.SYSTEM]
