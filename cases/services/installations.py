"""Writing an installation's details, keeping the copies on its cases in step."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from cases.models import Case, Installation

# Installation fields copied onto every case of the installation (the list filters read the copies).
CASE_COPIED_FIELDS = ("cohort", "installation_type")


@transaction.atomic
def installation_update(*, installation: Installation, changed_fields: Iterable[str] = ()) -> Installation:
    """Save an installation (as edited by DCC staff in the admin) and copy a changed cohort or
    installation type onto its cases in the same transaction.

    The copies are reference data, not a change to the case: versions, ``updated_at`` and the audit
    trail of the cases are left alone, so a queue's order and an open page's version do not move.
    """
    changed = set(changed_fields)
    is_new = installation.pk is None
    installation.save()
    if not is_new and changed & set(CASE_COPIED_FIELDS):
        Case.objects.filter(installation_id=installation.pk).update(
            **{field: getattr(installation, field) for field in CASE_COPIED_FIELDS}
        )
    return installation
