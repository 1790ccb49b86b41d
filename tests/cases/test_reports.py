"""The daily migration exceptions report: figures, beat generation, CSV, page and visibility (the API in
tests/cases/api/test_reports.py)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from freezegun import freeze_time

from cases.domain import CaseState, MigrationStatus, Role
from cases.models import Case, DailyReport, Installation, SlaClock
from cases.services import case_raise
from cases.services.reports import reports_generate_daily
from cases.tasks import reports_daily
from cases.workdays import LONDON
from tests.factories import CheckFactory, InstallationFactory, case_in_state

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 26)
NOON = datetime(2026, 11, 26, 12, tzinfo=LONDON)


@pytest.fixture
def day_of_failures(supplier, other_supplier, check):  # type: ignore[no-untyped-def]
    gas = CheckFactory(code="GT01", stage="DEVICE_HAN", category="DEVICE_HAN")
    a1 = InstallationFactory(responsible_supplier=supplier)
    a2 = InstallationFactory(responsible_supplier=supplier)
    b1 = InstallationFactory(responsible_supplier=other_supplier)
    with freeze_time(NOON):
        for n, (inst, chk) in enumerate([(a1, check), (a1, check), (a2, gas), (b1, check)]):
            case_raise(installation=inst, check=chk, source="mcc", source_event_id=f"d{n}", occurred_at=NOON)
    late = case_in_state(CaseState.RETRY_SCHEDULED, installation=InstallationFactory(responsible_supplier=supplier))
    Case.objects.filter(pk=late.pk).update(raised_at=NOON - timedelta(days=12))
    Installation.objects.filter(pk=a2.pk).update(migration_status=MigrationStatus.MIGRATED, migrated_at=NOON)
    SlaClock.objects.filter(case__installation=b1).update(breached_at=NOON)
    return a1, a2, b1


def test_figures_per_user_and_for_all(day_of_failures, supplier, other_supplier) -> None:
    with freeze_time(datetime(2026, 11, 27, 0, 15, tzinfo=LONDON)):
        reports = reports_generate_daily()
    by_scope = {r.organisation.code if r.organisation else "ALL": r.data for r in reports}
    assert set(by_scope) == {"supplier-a", "supplier-b", "ALL"}
    a, b, everyone = by_scope["supplier-a"], by_scope["supplier-b"], by_scope["ALL"]
    assert a["date"] == "2026-11-26"
    assert a["failed"] == [
        {"check_code": "CM001", "stage": "COMMUNICATIONS", "occurrences": 2, "installations": 1},
        {"check_code": "GT01", "stage": "DEVICE_HAN", "occurrences": 1, "installations": 1},
    ]
    assert a["failed_occurrences"] == 3 and b["failed_occurrences"] == 1 and everyone["failed_occurrences"] == 4
    assert a["installations_migrated"] == 1 and everyone["installations_migrated"] == 1
    assert a["migrated_on_day"] == 1 and b["migrated_on_day"] == 0 and everyone["migrated_on_day"] == 1
    assert a["pending_retry"] == 1 and a["open_total"] == 3
    assert a["open_by_state"]["RETRY_SCHEDULED"]["10-30d"] == 1
    assert a["open_by_state"]["RAISED"]["<1d"] == 2
    assert b["sla_breached_on_day"] == {"DCC RESOLUTION": 1, "DCC RESPONSE": 1}
    assert everyone["sla_open_breached"] == 1 and a["sla_open_breached"] == 0
    assert everyone["failed"][0] == {"check_code": "CM001", "stage": "COMMUNICATIONS", "occurrences": 3,
                                     "installations": 2}


def test_beat_task_regenerates_in_place(day_of_failures) -> None:
    with freeze_time(datetime(2026, 11, 27, 0, 15, tzinfo=LONDON)):
        assert reports_daily() == 3
        assert reports_daily("2026-11-26") == 3
    assert DailyReport.objects.filter(report_date=DAY).count() == 3


def test_page_csv_and_visibility(client, people, day_of_failures) -> None:
    reports_generate_daily(report_date=DAY)
    client.force_login(people[Role.USER_AGENT])
    page = client.get("/reports/daily/")
    text = page.content.decode()
    assert page.status_code == 200 and "Supplier A" in text and "GT01" in text and "Download CSV" in text
    assert client.get("/reports/daily/?org=ALL").context["report"].organisation.code == "supplier-a"
    response = client.get("/reports/daily.csv", {"date": "2026-11-26"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["report_date", "scope", "section", "item", "detail", "value"]
    assert ["2026-11-26", "supplier-a", "failed_occurrences", "CM001", "COMMUNICATIONS", "2"] in rows
    assert all(r[1] == "supplier-a" for r in rows[1:])
    assert client.get("/reports/daily.csv", {"date": "2026-11-25"}).status_code == 404

    client.force_login(people[Role.DCC_MANAGER])
    assert client.get("/reports/daily/").context["report"].organisation is None
    assert "All Users" in client.get("/reports/daily/").content.decode()
    assert client.get("/reports/daily/?org=supplier-b").context["report"].organisation.code == "supplier-b"


def test_migrated_on_day_counts_migrated_at_not_later_edits(supplier) -> None:
    # An installation migrated the day before and edited on the day is not a migration of the day;
    # one that migrated just before local midnight (23:30 London = 23:30 UTC in November) is.
    before = InstallationFactory(responsible_supplier=supplier, migration_status=MigrationStatus.MIGRATED,
                                 migrated_at=NOON - timedelta(days=1))
    Installation.objects.filter(pk=before.pk).update(updated_at=NOON)
    InstallationFactory(responsible_supplier=supplier, migration_status=MigrationStatus.PARTIALLY_MIGRATED,
                        migrated_at=datetime(2026, 11, 26, 23, 30, tzinfo=LONDON))
    InstallationFactory(responsible_supplier=supplier, migration_status=MigrationStatus.MIGRATED,
                        migrated_at=datetime(2026, 11, 27, 0, 0, tzinfo=LONDON))
    figures = next(r.data for r in reports_generate_daily(report_date=DAY) if r.organisation_id == supplier.pk)
    assert figures["migrated_on_day"] == 1
    assert figures["installations_migrated"] == 3
