"""Dashboard: aggregates, scoped per User organisation; the charts link into the queue."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.domain import CaseState, Cohort, InstallationType, Party, Role
from cases.models import Case
from cases.web.dashboard import build_dashboard
from tests.factories import CheckFactory, InstallationFactory, case_in_state


def _bar(chart, label: str) -> int:  # type: ignore[no-untyped-def]
    return next(b.value for b in chart.bars if b.label == label)


def test_dashboard_counts(people, supplier, other_supplier) -> None:  # type: ignore[no-untyped-def]
    check = CheckFactory(code="CM001")
    dormant = InstallationFactory(responsible_supplier=supplier, cohort=Cohort.IOC, installation_type=InstallationType.DORMANT)
    case_in_state(CaseState.RAISED, installation=dormant, check=check)
    case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=supplier), check=check, owner_party=Party.USER)
    old = case_in_state(CaseState.AWAITING_SMSO, installation=InstallationFactory(responsible_supplier=other_supplier), check=check, owner_party=Party.SMSO)
    Case.objects.filter(pk=old.pk).update(raised_at=timezone.now() - timedelta(days=30))
    case_in_state(CaseState.CLOSED, installation=InstallationFactory(responsible_supplier=supplier), check=check)

    dcc = build_dashboard(people[Role.DCC_OPERATOR])
    assert dcc["headline"]["open"] == 3 and dcc["headline"]["raised"] == 1 and dcc["headline"]["over_10_days"] == 1
    assert _bar(dcc["by_state"], "Awaiting SMSO") == 1
    assert _bar(dcc["waiting_states"], "Users") == 1 and _bar(dcc["waiting_states"], "SMSO") == 1
    assert _bar(dcc["ageing"], "> 20 days") == 1 and _bar(dcc["ageing"], "< 1 day") == 2
    assert _bar(dcc["by_cohort"], "IOC") == 1 and _bar(dcc["by_cohort"], "FOC") == 2
    assert _bar(dcc["by_type"], "Dormant") == 1
    assert _bar(dcc["by_stage"], "Communications") == 3

    # A User sees only their own organisation's cases.
    mine = build_dashboard(people[Role.USER_VIEWER])
    assert mine["headline"]["open"] == 2
    assert _bar(mine["waiting_states"], "SMSO") == 0 and _bar(mine["ageing"], "> 20 days") == 0


def test_dashboard_is_a_few_aggregate_queries_whatever_the_number_of_cases(people, supplier) -> None:  # type: ignore[no-untyped-def]
    check = CheckFactory(code="CM001")
    for _ in range(12):
        case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    with CaptureQueriesContext(connection) as queries:
        build_dashboard(people[Role.DCC_OPERATOR])
    case_queries = [q["sql"] for q in queries.captured_queries if "cases_case" in q["sql"]]
    assert len(case_queries) == 2
    assert all("GROUP BY" in sql for sql in case_queries)


def test_dashboard_page_renders_charts_that_link_to_the_queue(client_for, installation, check) -> None:  # type: ignore[no-untyped-def]
    case_in_state(CaseState.ESCALATED, installation=installation, check=check)
    for role in (Role.DCC_OPERATOR, Role.USER_AGENT, Role.USER_VIEWER):
        response = client_for(role).get("/dashboard/")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count("<svg") >= 6
        assert 'href="/?state=ESCALATED"' in html
        assert re.search(r'aria-label="Escalated: 1"', html)


def test_user_dashboard_says_it_is_scoped(agent_client, db) -> None:  # type: ignore[no-untyped-def]
    assert b"Supplier A only." in agent_client.get("/dashboard/").content


# --- Rollup path (cases.services.dashboard) and the live fallback ---------------------------------
def _open_kpi(html: str) -> int:
    match = re.search(r'<span class="kv">([\d,]+)</span><span class="kl">open cases</span>', html)
    assert match, "no open-cases figure on the page"
    return int(match.group(1).replace(",", ""))


def test_dashboard_reads_the_fresh_rollup_and_says_as_of_when(client_for, people, supplier, other_supplier) -> None:  # type: ignore[no-untyped-def]
    from cases.services.dashboard import dashboard_rollup_rebuild

    check = CheckFactory(code="CM001")
    for org in (supplier, supplier, other_supplier):
        case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=org), check=check)
    built = dashboard_rollup_rebuild()
    # Opened after the rebuild: the rollup does not know it yet, which shows the page reads the rollup.
    case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)

    with CaptureQueriesContext(connection) as queries:
        html = client_for(Role.DCC_OPERATOR).get("/dashboard/").content.decode()
    assert not [q for q in queries.captured_queries if "cases_case" in q["sql"]]
    assert 'data-source="rollup"' in html and "Counts as of" in html
    assert timezone.localtime(built.built_at).strftime("%H:%M") in html
    assert _open_kpi(html) == 3

    # A User sees their organisation's rows of the rollup only.
    user_html = client_for(Role.USER_AGENT).get("/dashboard/").content.decode()
    assert 'data-source="rollup"' in user_html and _open_kpi(user_html) == 2


def test_dashboard_falls_back_to_live_figures_when_the_rollup_is_stale(client_for, settings, supplier) -> None:  # type: ignore[no-untyped-def]
    from cases.models import DashboardRollupState
    from cases.services.dashboard import dashboard_rollup_rebuild

    check = CheckFactory(code="CM001")
    dashboard_rollup_rebuild()
    case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    max_age = settings.MEHR["DASHBOARD_ROLLUP_MAX_AGE_SECONDS"]
    DashboardRollupState.objects.update(built_at=timezone.now() - timedelta(seconds=max_age + 5))
    for role in (Role.DCC_OPERATOR, Role.USER_AGENT):
        html = client_for(role).get("/dashboard/").content.decode()
        assert 'data-source="live"' in html and "Counts as of" not in html
        assert _open_kpi(html) == 1


def test_dashboard_is_live_before_the_first_rebuild(client_for, installation, check) -> None:  # type: ignore[no-untyped-def]
    case_in_state(CaseState.ESCALATED, installation=installation, check=check)
    html = client_for(Role.USER_VIEWER).get("/dashboard/").content.decode()
    assert 'data-source="live"' in html and _open_kpi(html) == 1
