"""The audit trail is append-only: not through the ORM, and on PostgreSQL not even by raw SQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models.deletion import ProtectedError

from cases.domain import CaseState, EventKind, NoteKind
from cases.models import Case, CaseEvent
from cases.services import case_add_note
from tests.factories import case_in_state


@pytest.fixture
def event(people, installation, check):  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.TRIAGED, installation=installation, check=check)
    from cases.domain import Role

    return case_add_note(case=case, actor=people[Role.DCC_OPERATOR], kind=NoteKind.INVESTIGATION, body="original")


def _unchanged(event: CaseEvent) -> None:
    fresh = CaseEvent.objects.get(pk=event.pk)
    assert (fresh.body, fresh.kind) == ("original", EventKind.NOTE)


def test_instance_cannot_be_saved_again_or_deleted(event) -> None:  # type: ignore[no-untyped-def]
    event.body = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.save(update_fields=["body"])
    with pytest.raises(PermissionError):
        event.delete()
    _unchanged(event)


@pytest.mark.parametrize(
    "attempt",
    [
        lambda e: CaseEvent.objects.filter(pk=e.pk).update(body="rewritten"),
        lambda e: CaseEvent.objects.all().delete(),
        lambda e: CaseEvent.objects.filter(pk=e.pk).delete(),
        lambda e: e.case.events.update(body="rewritten"),
        lambda e: e.case.events.all().delete(),
        lambda e: CaseEvent._base_manager.filter(pk=e.pk).update(body="rewritten"),
        lambda e: CaseEvent._base_manager.filter(pk=e.pk).delete(),
        lambda e: CaseEvent.objects.bulk_update([_with_body(e)], ["body"]),
        lambda e: CaseEvent.objects.update_or_create(pk=e.pk, defaults={"body": "rewritten"}),
    ],
    ids=["update", "delete-all", "delete", "related-update", "related-delete", "base-manager-update",
         "base-manager-delete", "bulk-update", "update-or-create"],
)
def test_querysets_cannot_update_or_delete(event, attempt) -> None:  # type: ignore[no-untyped-def]
    # A savepoint: bulk_update refuses inside an atomic block without one of its own.
    with pytest.raises(PermissionError), transaction.atomic():
        attempt(event)
    _unchanged(event)


def _with_body(event: CaseEvent) -> CaseEvent:
    event.body = "rewritten"
    return event


def test_a_case_with_events_cannot_be_deleted(event) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtectedError):
        Case.objects.filter(pk=event.case_id).delete()
    assert CaseEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE cases_caseevent SET body = 'rewritten' WHERE id = %s",
        "DELETE FROM cases_caseevent WHERE id = %s",
        "UPDATE cases_caseevent SET visibility = 'SHARED', actor_id = NULL WHERE id = %s",
    ],
)
def test_postgres_trigger_refuses_raw_sql(event, sql) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])
    _unchanged(event)


@pytest.mark.postgres
def test_postgres_trigger_allows_inserts(event) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cases_caseevent (case_id, kind, actor_role, created_at, from_state, to_state, transition, "
            "note_kind, visibility, body, data) SELECT case_id, kind, actor_role, created_at, '', '', '', note_kind, "
            "visibility, 'copy', data FROM cases_caseevent WHERE id = %s",
            [event.pk],
        )
    assert CaseEvent.objects.filter(case_id=event.case_id, body="copy").exists()
