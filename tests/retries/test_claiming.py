"""Two claimers at once (two beats by mistake) never claim the same attempt: the claim is the lock."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from retries.models import SessionAttempt, SessionState
from retries.services import migration_schedule
from retries.services.claiming import claim_batch
from tests.factories import InstallationFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_skip_each_others_rows(catalogue) -> None:  # type: ignore[no-untyped-def]
    for _ in range(6):
        migration_schedule(installation=InstallationFactory(), actor=None)
    other: list = []

    def second_beat() -> None:
        try:
            other.extend(claim_batch())
        finally:
            connection.close()

    with transaction.atomic():
        # The first beat is mid-claim: it holds row locks on three due attempts.
        held = list(
            SessionAttempt.objects.select_for_update(skip_locked=True)
            .filter(state=SessionState.SCHEDULED)
            .order_by("due_at")
            .values_list("pk", flat=True)[:3]
        )
        thread = threading.Thread(target=second_beat)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive()  # it did not wait for our locks
        SessionAttempt.objects.filter(pk__in=held).update(state=SessionState.CLAIMED)
    assert len(other) == 3 and not {c.pk for c in other} & set(held)
    assert claim_batch() == []  # nothing left, nothing claimed twice
    assert SessionAttempt.objects.filter(state=SessionState.CLAIMED).count() == 6
