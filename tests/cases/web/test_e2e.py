"""End-to-end tests in real headless Chromium (Debian's /usr/bin/chromium through Playwright for
Python; never a browser download) against pytest-django's live server.

A User agent signs in, filters the queue, opens a case, ticks a checklist step, adds a correction
note with an attachment and requests a retry; a DCC operator triages, assigns and escalates a case
and runs a bulk assignment; a stale page gets "this case changed; reload"; a User cannot reach
another User's case by URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cases.domain import CaseState, Party, Role
from cases.models import Attachment, Case, ChecklistItem
from tests.factories import DEFAULT_PASSWORD, CheckFactory, DeviceFactory, InstallationFactory, case_in_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
QUEUE_URL = re.compile(r"^https?://[^/]+/(\?.*)?$")  # the queue, not the sign-in page


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: .ci/run and `make test` install it"
    # Playwright's sync API runs an event loop in this thread for the whole module; the ORM calls
    # the tests (and pytest-django's flush between tests) make are still plain synchronous calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    contexts = []

    def make():  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(QUEUE_URL)


def test_user_agent_works_a_case_and_requests_a_retry(new_page, people, supplier, other_supplier) -> None:  # type: ignore[no-untyped-def]
    check = CheckFactory(code="CM001")
    installation = InstallationFactory(responsible_supplier=supplier)
    DeviceFactory(installation=installation)
    target = case_in_state(CaseState.AWAITING_USER, installation=installation, check=check, owner_party=Party.USER)
    case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=other_supplier), check=check)

    page = new_page()
    sign_in(page, "user_agent")
    # The queue shows the organisation's two cases; filter to those awaiting the User.
    assert page.locator("td.ref").count() == 2
    page.get_by_label("State").select_option("AWAITING_USER")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"state=AWAITING_USER"))
    assert page.locator("td.ref").all_inner_texts() == [target.reference]

    page.get_by_role("link", name=target.reference).click()
    page.wait_for_url(re.compile(f"/cases/{target.reference}/$"))
    assert page.get_by_role("heading", name="Procedure checklist").is_visible()

    # Tick the User's investigation step (step 2 of the check's procedure).
    page.get_by_role("button", name="Tick step 2").click()
    page.wait_for_load_state()
    assert page.get_by_text("Step 2 ticked.").is_visible()

    # A correction note with an attachment.
    page.get_by_label("Kind").select_option("CORRECTION")
    page.locator("#id_body").fill("Corrected the ESME model in our MA record and resubmitted the MA file.")
    page.set_input_files(
        "#id_attachments", files=[{"name": "ma-resubmission.csv", "mimeType": "text/csv", "buffer": b"mpan,model\n1,X\n"}]
    )
    page.get_by_role("button", name="Add note").click()
    page.wait_for_load_state()
    assert page.get_by_text("Note added.").is_visible()
    assert page.get_by_role("link", name="ma-resubmission.csv").is_visible()

    # Request a retry: the correction was recorded, so the note is optional.
    page.locator("#action-schedule_retry > summary").click()
    page.locator("#action-schedule_retry").get_by_role("button", name="Request retry").click()
    page.wait_for_load_state()
    assert page.get_by_text("Request retry: done.").is_visible()
    assert page.locator(".casehead .state").inner_text() == "Retry scheduled"

    target.refresh_from_db()
    assert target.state == CaseState.RETRY_SCHEDULED
    assert ChecklistItem.objects.get(case=target, order=2).done
    assert Attachment.objects.get(case=target).original_name == "ma-resubmission.csv"
    assert target.migration_attempts.exists()  # the retry engine scheduled the window


def test_dcc_operator_triages_assigns_escalates_and_bulk_assigns(new_page, people, supplier, other_supplier) -> None:  # type: ignore[no-untyped-def]
    check = CheckFactory(code="CM001")
    first = case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    second = case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=check)
    third = case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=other_supplier), check=check)
    operator, manager = people[Role.DCC_OPERATOR], people[Role.DCC_MANAGER]

    page = new_page()
    sign_in(page, "dcc_operator")
    page.goto(f"/cases/{first.reference}/")

    # Triage: the form asks for the owner party and the assignee (defaulting to me).
    page.locator("#action-triage > summary").click()
    form = page.locator("#action-triage")
    form.get_by_label("Owner party").select_option("DCC")
    assert form.get_by_label("Assignee").input_value() == str(operator.pk)
    form.get_by_role("button", name="Triage").click()
    page.wait_for_load_state()
    assert page.get_by_text("Triage: done.").is_visible()

    # Assign to the manager from the side panel.
    page.get_by_label("Assign to").select_option(str(manager.pk))
    page.get_by_role("button", name="Assign", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_text("Assigned to").first.is_visible()

    # Escalate: it needs an incident reference; submitting without one shows the field error.
    page.locator("#action-escalate > summary").click()
    escalate = page.locator("#action-escalate")
    escalate.get_by_role("button", name="Escalate").click()
    page.wait_for_load_state()
    assert page.get_by_text("This field is required.").is_visible()
    page.locator("#action-escalate").get_by_label("Incident reference").fill("INC0098765")
    page.locator("#action-escalate").get_by_role("button", name="Escalate").click()
    page.wait_for_load_state()
    assert page.locator(".casehead .state").inner_text() == "Escalated"

    first.refresh_from_db()
    assert first.state == CaseState.ESCALATED and first.assignee == manager
    assert first.incident_reference == "INC0098765" and first.owner_party == Party.DCC

    # Bulk assignment from the queue (raised cases of both suppliers).
    page.goto("/?state=RAISED")
    page.get_by_label(f"Select {second.reference}").check()
    page.get_by_label(f"Select {third.reference}").check()
    page.locator("#bulk_action").select_option("assign")
    page.locator("#bulk_assignee").select_option(str(operator.pk))
    page.get_by_role("button", name="Run on selected").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=re.compile("2 succeeded, 0 failed")).is_visible()
    assert Case.objects.filter(pk__in=[second.pk, third.pk], assignee=operator).count() == 2


def test_a_stale_page_is_told_to_reload(new_page, people, supplier) -> None:  # type: ignore[no-untyped-def]
    from cases.services import case_transition

    case = case_in_state(CaseState.RAISED, installation=InstallationFactory(responsible_supplier=supplier), check=CheckFactory(code="CM001"))
    page = new_page()
    sign_in(page, "dcc_operator")
    page.goto(f"/cases/{case.reference}/")
    # Someone else escalates the case while this page is open.
    case_transition(case=case, transition="escalate", actor=people[Role.DCC_MANAGER], incident_reference="INC1")
    page.locator("#action-propose_exclusion > summary").click()
    page.locator("#action-propose_exclusion").get_by_label(re.compile("Excluded category")).select_option("NO_WAN_DURING_MIGRATION")
    page.locator("#action-propose_exclusion").get_by_role("button", name="Propose exclusion").click()
    page.wait_for_load_state()
    assert page.get_by_text("This case changed; reload.").is_visible()
    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED and not case.excluded_category


def test_a_user_cannot_reach_another_users_case_by_url(new_page, people, other_supplier) -> None:  # type: ignore[no-untyped-def]
    theirs = case_in_state(CaseState.AWAITING_USER, installation=InstallationFactory(responsible_supplier=other_supplier), check=CheckFactory(code="CM001"))
    page = new_page()
    sign_in(page, "user_agent")
    response = page.goto(f"/cases/{theirs.reference}/")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert theirs.installation.mpan not in page.content()
    response = page.goto(f"/installations/{theirs.installation_id}/")
    assert response is not None and response.status == 404


def test_keyboard_only_sign_in_and_navigation(new_page, people) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    page.goto("/accounts/login/")
    page.keyboard.type("user_viewer")  # the username field has focus on load
    page.keyboard.press("Tab")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(QUEUE_URL)
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("link", name="Dashboard").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard/$"))
    assert page.get_by_role("heading", name="Dashboard").is_visible()
