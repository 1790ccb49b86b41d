"""cases/counting.py: the planner's estimate for big lists, an exact count for small ones."""

from __future__ import annotations

import pytest
from django.db import connection

from cases.counting import estimated_count, planner_estimate
from cases.models import Case
from tests.factories import case_in_state

pytestmark = pytest.mark.django_db


def test_small_lists_are_counted_exactly(settings, installation, check) -> None:  # type: ignore[no-untyped-def]
    case_in_state("RAISED", installation=installation, check=check)
    settings.MEHR = {**settings.MEHR, "ESTIMATED_COUNT_ABOVE": 100_000}
    assert estimated_count(Case.objects.all()) == (1, False)
    assert estimated_count(Case.objects.filter(state="CLOSED")) == (0, False)


def test_big_lists_use_the_planners_estimate(settings, installation, check) -> None:  # type: ignore[no-untyped-def]
    case_in_state("RAISED", installation=installation, check=check)
    settings.MEHR = {**settings.MEHR, "ESTIMATED_COUNT_ABOVE": -1}
    count, estimated = estimated_count(Case.objects.filter(supplier_id=installation.responsible_supplier_id))
    if connection.vendor == "postgresql":
        assert estimated and count >= 0 and count == planner_estimate(Case.objects.filter(
            supplier_id=installation.responsible_supplier_id))  # fmt: skip
    else:
        assert (count, estimated) == (1, False)


def test_an_empty_queryset_is_estimated_as_empty() -> None:
    assert planner_estimate(Case.objects.none()) in (0, None)
    assert estimated_count(Case.objects.none()) == (0, False)
