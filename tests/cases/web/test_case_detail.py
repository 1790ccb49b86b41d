"""Case detail: sections, per-role actions, transitions through the service, stale pages, notes,
attachments, checklist ticks, assignment, and visibility (another User's case is a 404)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.domain import CaseState, EventKind, NoteKind, Party, Role, Visibility
from cases.models import Attachment, Case, CaseEvent, ChecklistItem
from cases.services import case_add_note, case_transition
from tests.factories import CheckFactory, case_in_state


def url(case: Case, suffix: str = "") -> str:
    return f"/cases/{case.reference}/{suffix}"


def test_detail_shows_summary_check_checklist_and_timeline(dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get(url(case))
    assert response.status_code == 200
    html = response.content.decode()
    assert case.reference in html
    assert case.installation.mpan in html and case.installation.mprn in html
    assert "70-B3-D5-1F" in html  # a device's EUI-64
    assert case.check_type.description in html
    assert "Procedure checklist" in html and "Check the S1SP session logs" in html
    assert "Timeline" in html and "Raised" in html
    assert "0 of 5" in html  # migration attempts against the limit
    assert f'href="/installations/{case.installation.pk}/"' in html


def test_reference_forms_redirect_to_the_canonical_one(dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.get(f"/cases/{case.pk}/")
    assert response.status_code == 302 and response["Location"] == url(case)


def test_a_user_opening_another_users_case_gets_404(client_for, other_case) -> None:  # type: ignore[no-untyped-def]
    for role in (Role.USER_AGENT, Role.USER_VIEWER):
        client = client_for(role)
        response = client.get(url(other_case))
        assert response.status_code == 404
        assert b"Not found" in response.content
        # Every action on it is a 404 too, and nothing is written.
        assert client.post(url(other_case, "notes/"), {"kind": "INVESTIGATION", "body": "x"}).status_code == 404
        assert client.post(url(other_case, "transitions/withdraw/"), {"note": "x"}).status_code == 404
        assert client.post(url(other_case, "checklist/1/")).status_code == 404
        assert client.post(url(other_case, "assign/"), {"assignee": ""}).status_code == 404
    assert CaseEvent.objects.filter(case=other_case).count() == 1


def test_unknown_case_is_404(dcc_client, db) -> None:  # type: ignore[no-untyped-def]
    assert dcc_client.get("/cases/MEHR-999999/").status_code == 404
    assert dcc_client.get("/cases/not-a-reference/").status_code == 404


# --- actions per role --------------------------------------------------------------------------
def _action_names(response) -> set[str]:  # type: ignore[no-untyped-def]
    import re

    return set(re.findall(r'id="action-([a-z_]+)"', response.content.decode()))


def test_dcc_operator_gets_exactly_the_transitions_it_may_fire_now(dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    assert _action_names(dcc_client.get(url(case))) == {"triage", "escalate", "propose_exclusion"}


def test_user_agent_actions_on_a_case_awaiting_the_user(agent_client, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.AWAITING_USER, installation=installation, check=check, owner_party=Party.USER)
    assert _action_names(agent_client.get(url(case))) == {"hand_back_to_dcc", "schedule_retry", "withdraw"}


def test_dcc_manager_may_exclude(client_for, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.EXCLUSION_PROPOSED, installation=installation, check=check)
    assert {"exclude", "reject_exclusion"} <= _action_names(client_for(Role.DCC_MANAGER).get(url(case)))
    assert "exclude" not in _action_names(client_for(Role.DCC_OPERATOR).get(url(case)))


def test_viewer_sees_no_actions_no_note_form_and_no_tick_buttons(client_for, case) -> None:  # type: ignore[no-untyped-def]
    response = client_for(Role.USER_VIEWER).get(url(case))
    html = response.content.decode()
    assert _action_names(response) == set()
    assert "Add a note" not in html and "Tick step" not in html and "Assign to" not in html
    assert "can read this case but not act on it" in html


def test_viewer_posts_are_refused(client_for, case) -> None:  # type: ignore[no-untyped-def]
    client = client_for(Role.USER_VIEWER)
    assert client.post(url(case, "notes/"), {"kind": "INVESTIGATION", "body": "x"}).status_code == 403
    assert client.post(url(case, "transitions/withdraw/"), {"note": "x"}).status_code == 403
    assert client.post(url(case, "checklist/2/")).status_code == 403
    assert client.post(url(case, "assign/"), {"assignee": ""}).status_code == 403
    assert CaseEvent.objects.filter(case=case).count() == 1


def test_disabled_transitions_say_why(client_for, installation) -> None:  # type: ignore[no-untyped-def]
    not_retryable = CheckFactory(code="CR001", retryable=False)
    case = case_in_state(CaseState.AWAITING_USER, installation=installation, check=not_retryable)
    html = client_for(Role.USER_AGENT).get(url(case)).content.decode()
    assert "Request retry</strong> is not available: This check is not retryable" in html


# --- firing transitions ------------------------------------------------------------------------
def test_triage_through_the_form(dcc_client, case, people) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.post(
        url(case, "transitions/triage/"),
        {"expected_version": case.version, "owner_party": "USER", "assignee": people[Role.DCC_OPERATOR].pk,
         "priority": "2", "note": "Looks like MA data."},
    )
    assert response.status_code == 302 and response["Location"] == url(case)
    case.refresh_from_db()
    assert case.state == CaseState.TRIAGED and case.owner_party == Party.USER and case.priority == 2
    assert case.assignee == people[Role.DCC_OPERATOR]
    event = CaseEvent.objects.filter(case=case, kind=EventKind.TRANSITION).get()
    assert event.transition == "triage" and event.actor == people[Role.DCC_OPERATOR]
    assert b"Triage: done." in dcc_client.get(url(case)).content


def test_missing_required_field_shows_the_form_again_with_the_error(dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.post(url(case, "transitions/escalate/"), {"expected_version": case.version, "incident_reference": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="action-escalate" open' in html or 'class="action" open id="action-escalate"' in html
    assert "This field is required." in html
    case.refresh_from_db()
    assert case.state == CaseState.RAISED


def test_a_stale_page_gets_this_case_changed_reload(dcc_client, client_for, case, people) -> None:  # type: ignore[no-untyped-def]
    stale_version = case.version
    # Someone else acts first.
    case_transition(case=case, transition="escalate", actor=people[Role.DCC_MANAGER], incident_reference="INC1")
    response = dcc_client.post(
        url(case, "transitions/propose_exclusion/"),
        {"expected_version": stale_version, "excluded_category": "NO_WAN_DURING_MIGRATION"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "This case changed; reload." in html and "was <strong>not</strong> applied" in html
    case.refresh_from_db()
    assert case.state == CaseState.ESCALATED and not case.excluded_category


def test_a_stale_assignment_is_refused_too(dcc_client, case, people) -> None:  # type: ignore[no-untyped-def]
    stale = case.version
    case_transition(case=case, transition="escalate", actor=people[Role.DCC_MANAGER], incident_reference="INC1")
    response = dcc_client.post(url(case, "assign/"), {"expected_version": stale, "assignee": people[Role.DCC_OPERATOR].pk})
    assert response.status_code == 409
    case.refresh_from_db()
    assert case.assignee is None


def test_a_transition_the_role_may_not_fire_is_403(agent_client, case) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(url(case, "transitions/escalate/"), {"incident_reference": "INC9"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.state == CaseState.RAISED


def test_unknown_transition_is_404(dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    assert dcc_client.post(url(case, "transitions/teleport/")).status_code == 404


def test_get_on_an_action_url_is_not_allowed(dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    assert dcc_client.get(url(case, "transitions/triage/")).status_code == 405


def test_user_requests_a_retry_with_the_correction(agent_client, installation, check, people) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.AWAITING_USER, installation=installation, check=check)
    response = agent_client.post(
        url(case, "transitions/schedule_retry/"),
        {"expected_version": case.version, "note": "Firmware record corrected in our MA data."},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.RETRY_SCHEDULED
    note = CaseEvent.objects.get(case=case, kind=EventKind.NOTE)
    assert note.note_kind == NoteKind.CORRECTION and note.actor == people[Role.USER_AGENT]


def test_user_retry_without_a_correction_is_refused_with_the_reason(agent_client, installation, check) -> None:  # type: ignore[no-untyped-def]
    case = case_in_state(CaseState.AWAITING_USER, installation=installation, check=check)
    response = agent_client.post(url(case, "transitions/schedule_retry/"), {"expected_version": case.version})
    assert response.status_code == 400
    assert b"Record the correction you made" in response.content
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_USER


# --- notes and attachments ---------------------------------------------------------------------
def test_user_adds_a_correction_note_with_an_attachment(agent_client, case, people, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("ma-extract.csv", b"mpan,firmware\n1234,2.1\n", content_type="text/csv")
    response = agent_client.post(
        url(case, "notes/"), {"kind": "CORRECTION", "body": "Corrected the MA record.", "attachments": [upload]}
    )
    assert response.status_code == 302
    note = CaseEvent.objects.get(case=case, kind=EventKind.NOTE)
    assert note.note_kind == NoteKind.CORRECTION and note.visibility == Visibility.SHARED
    attachment = Attachment.objects.get(case=case)
    assert attachment.original_name == "ma-extract.csv" and attachment.uploaded_by == people[Role.USER_AGENT]
    page = agent_client.get(url(case)).content.decode()
    assert "Corrected the MA record." in page and f"/attachments/{attachment.pk}/" in page
    download = agent_client.get(f"/attachments/{attachment.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"mpan,firmware\n1234,2.1\n"
    assert "attachment;" in download["Content-Disposition"]


def test_a_bad_attachment_is_refused_and_nothing_is_written(agent_client, case, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("tool.exe", b"MZ...", content_type="application/octet-stream")
    response = agent_client.post(url(case, "notes/"), {"kind": "CORRECTION", "body": "See file", "attachments": [upload]})
    assert response.status_code == 400
    assert b"Files of this type are not accepted" in response.content
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.NOTE).exists()


def test_an_empty_note_is_refused(agent_client, case) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(url(case, "notes/"), {"kind": "CORRECTION", "body": "  "})
    assert response.status_code == 400
    assert b"has-error" in response.content


def test_dcc_internal_notes_are_hidden_from_users(dcc_client, agent_client, case, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("s1sp-log.txt", b"session log", content_type="text/plain")
    dcc_client.post(
        url(case, "notes/"),
        {"kind": "INVESTIGATION", "body": "S1SP says the CH is flapping.", "visibility": "INTERNAL", "attachments": [upload]},
    )
    dcc_client.post(url(case, "notes/"), {"kind": "COMMUNICATION", "body": "We are looking at it.", "visibility": "SHARED"})
    dcc_page = dcc_client.get(url(case)).content.decode()
    assert "S1SP says the CH is flapping." in dcc_page and "DCC internal" in dcc_page
    user_page = agent_client.get(url(case)).content.decode()
    assert "We are looking at it." in user_page
    assert "flapping" not in user_page and "s1sp-log.txt" not in user_page
    internal = Attachment.objects.get(case=case)
    assert agent_client.get(f"/attachments/{internal.pk}/").status_code == 404
    assert dcc_client.get(f"/attachments/{internal.pk}/").status_code == 200


def test_users_cannot_choose_internal_visibility(agent_client, case) -> None:  # type: ignore[no-untyped-def]
    html = agent_client.get(url(case)).content.decode()
    assert 'name="visibility"' not in html
    agent_client.post(url(case, "notes/"), {"kind": "INVESTIGATION", "body": "x", "visibility": "INTERNAL"})
    assert CaseEvent.objects.get(case=case, kind=EventKind.NOTE).visibility == Visibility.SHARED


def test_attachment_of_another_users_case_is_404(agent_client, other_case, people, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")
    case_add_note(case=other_case, actor=people[Role.DCC_OPERATOR], kind="INVESTIGATION", body="b", attachments=[upload])
    attachment = Attachment.objects.get(case=other_case)
    assert agent_client.get(f"/attachments/{attachment.pk}/").status_code == 404


# --- checklist -------------------------------------------------------------------------------
def test_user_ticks_a_user_step(agent_client, case, people) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(url(case, "checklist/2/"), {"done": "1"})
    assert response.status_code == 302
    item = ChecklistItem.objects.get(case=case, order=2)
    assert item.done and item.done_by == people[Role.USER_AGENT]
    assert CaseEvent.objects.filter(case=case, kind=EventKind.CHECKLIST).count() == 1
    agent_client.post(url(case, "checklist/2/"), {"done": "0"})
    item.refresh_from_db()
    assert not item.done


def test_tick_buttons_match_the_party(agent_client, dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    user_html = agent_client.get(url(case)).content.decode()
    assert 'aria-label="Tick step 2"' in user_html and 'aria-label="Tick step 1"' not in user_html
    dcc_html = dcc_client.get(url(case)).content.decode()
    assert 'aria-label="Tick step 1"' in dcc_html and 'aria-label="Tick step 2"' not in dcc_html


def test_user_cannot_tick_a_dcc_step(agent_client, case) -> None:  # type: ignore[no-untyped-def]
    assert agent_client.post(url(case, "checklist/1/")).status_code == 403
    assert not ChecklistItem.objects.get(case=case, order=1).done


def test_ticking_a_missing_step_is_404(dcc_client, case) -> None:  # type: ignore[no-untyped-def]
    assert dcc_client.post(url(case, "checklist/99/")).status_code == 404


# --- assignment --------------------------------------------------------------------------------
def test_dcc_assigns_a_case(dcc_client, case, people) -> None:  # type: ignore[no-untyped-def]
    response = dcc_client.post(url(case, "assign/"), {"expected_version": case.version, "assignee": people[Role.USER_AGENT].pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.assignee == people[Role.USER_AGENT]


def test_user_agent_cannot_assign_to_dcc_staff(agent_client, case, people) -> None:  # type: ignore[no-untyped-def]
    response = agent_client.post(url(case, "assign/"), {"assignee": people[Role.DCC_OPERATOR].pk}, follow=True)
    assert response.status_code == 403 or b"within their own organisation" in response.content
    case.refresh_from_db()
    assert case.assignee is None


@pytest.mark.parametrize("role", [Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.USER_AGENT, Role.USER_VIEWER])
def test_every_browser_role_can_read_a_visible_case(client_for, case, role: str) -> None:  # type: ignore[no-untyped-def]
    assert client_for(role).get(url(case)).status_code == 200


def test_a_ticked_step_whose_person_was_deleted_still_renders(dcc_client, case, people) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    # done_by is SET_NULL: the person who ticked the step may have been removed since.
    ChecklistItem.objects.filter(case=case, order=1).update(done=True, done_by=None, done_at=timezone.now())
    response = dcc_client.get(url(case))
    assert response.status_code == 200
    assert "✓ done" in response.content.decode()
