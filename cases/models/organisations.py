from __future__ import annotations

from django.conf import settings
from django.db import models

from cases.domain import DCC_ROLES, USER_ROLES, OrganisationKind, Role


class Organisation(models.Model):
    """A party to migration: DCC, a User (supplier), an SMSO, the DCO or a network operator."""

    kind = models.CharField(max_length=20, choices=OrganisationKind.choices, db_index=True)
    code = models.SlugField(max_length=32, unique=True, help_text="Short code, e.g. a supplier's market participant ID.")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Membership(models.Model):
    """A person's (or a system's) single organisation and role."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=[c for c in Role.choices if c[0] != Role.SYSTEM])

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(role=Role.SYSTEM), name="membership_role_not_system"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.organisation.code}"

    @property
    def is_integration(self) -> bool:
        return self.role in (Role.DCC_INTEGRATION, Role.USER_INTEGRATION)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.role in DCC_ROLES and self.organisation.kind != OrganisationKind.DCC:
            raise ValidationError({"role": "DCC roles belong to the DCC organisation."})
        if self.role in USER_ROLES and self.organisation.kind != OrganisationKind.USER:
            raise ValidationError({"role": "User roles belong to a User (supplier) organisation."})
