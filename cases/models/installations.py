from __future__ import annotations

from django.db import models

from cases.domain import (
    Cohort,
    DeviceType,
    ExcludedCategory,
    InstallationType,
    MigrationStatus,
    OrganisationKind,
)
from cases.validators import validate_eui64, validate_mpan, validate_mprn


class Installation(models.Model):
    """A SMETS1 Installation: the set of devices at one premises, migrated as a whole."""

    responsible_supplier = models.ForeignKey(
        "cases.Organisation",
        on_delete=models.PROTECT,
        related_name="installations",
        limit_choices_to={"kind": OrganisationKind.USER},
    )
    smso = models.ForeignKey(
        "cases.Organisation",
        on_delete=models.PROTECT,
        related_name="smso_installations",
        limit_choices_to={"kind": OrganisationKind.SMSO},
    )
    cohort = models.CharField(max_length=12, choices=Cohort.choices, db_index=True)
    installation_type = models.CharField(max_length=8, choices=InstallationType.choices, default=InstallationType.ACTIVE)
    mpan = models.CharField("MPAN core", max_length=13, blank=True, default="", validators=[validate_mpan])
    mprn = models.CharField("MPRN", max_length=10, blank=True, default="", validators=[validate_mprn])
    region = models.CharField(max_length=40, blank=True, default="")
    comms_provider = models.CharField(max_length=40, blank=True, default="")
    migration_status = models.CharField(
        max_length=20, choices=MigrationStatus.choices, default=MigrationStatus.PENDING, db_index=True
    )
    migration_attempt_count = models.PositiveIntegerField(default=0)
    excluded_category = models.CharField(max_length=40, choices=ExcludedCategory.choices, null=True, blank=True)
    # When the installation first joined the DCC network (fully, or electricity only): set once by the
    # retry engine when a migration window connects, never moved afterwards, so a report regenerated
    # later counts each installation on the same day. `updated_at` moves with every edit and is not it.
    migrated_at = models.DateTimeField(null=True, blank=True, help_text="When it first migrated (fully or partly).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["mpan"], name="installation_mpan_idx"),
            models.Index(fields=["mprn"], name="installation_mprn_idx"),
            models.Index(fields=["responsible_supplier", "cohort"], name="installation_supplier_idx"),
            # A User's installations in id order: the retries selectors' `installation__in=` semi-joins
            # (due backlog, open windows) merge-join on it instead of walking the whole primary key
            # (250 ms -> 45 ms for one User at 1M installations; docs/UI.md).
            models.Index(fields=["responsible_supplier", "id"], name="installation_supplier_id_idx"),
            # The daily report's "migrated on the day" range scan; most installations are not migrated
            # yet during the programme, and those never enter this index.
            models.Index(fields=["migrated_at"], condition=models.Q(migrated_at__isnull=False),
                         name="installation_migrated_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(mpan="") & models.Q(mprn="")), name="installation_has_mpxn"
            ),
        ]

    def __str__(self) -> str:
        return f"Installation {self.pk} ({self.mpxn})"

    @property
    def mpxn(self) -> str:
        return " / ".join(x for x in (self.mpan, self.mprn) if x)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not self.mpan and not self.mprn:
            raise ValidationError("An installation has an MPAN, an MPRN or both.")


class Device(models.Model):
    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="devices")
    eui64 = models.CharField("device ID (EUI-64)", max_length=23, unique=True, validators=[validate_eui64])
    device_type = models.CharField(max_length=6, choices=DeviceType.choices)
    model = models.CharField(max_length=80, blank=True, default="")
    firmware_version = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["installation_id", "device_type"]

    def __str__(self) -> str:
        return f"{self.device_type} {self.eui64}"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        from cases.validators import normalise_eui64

        self.eui64 = normalise_eui64(self.eui64)
        super().save(*args, **kwargs)
