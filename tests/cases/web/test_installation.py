"""Installation detail: devices, cases, visibility."""

from __future__ import annotations

from cases.domain import CaseState, Role
from tests.factories import CheckFactory, DeviceFactory, case_in_state


def test_installation_detail_shows_devices_and_cases(dcc_client, installation, check) -> None:  # type: ignore[no-untyped-def]
    DeviceFactory(installation=installation, device_type="GSME", eui64="00-0D-6F-00-00-00-00-01")
    first = case_in_state(CaseState.RAISED, installation=installation, check=check)
    second = case_in_state(CaseState.CLOSED, installation=installation, check=CheckFactory(code="DV002"))
    response = dcc_client.get(f"/installations/{installation.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert installation.mpan in html and "00-0D-6F-00-00-00-00-01" in html
    assert first.reference in html and second.reference in html
    assert installation.smso.name in html


def test_a_user_sees_their_own_installation(agent_client, installation) -> None:  # type: ignore[no-untyped-def]
    assert agent_client.get(f"/installations/{installation.pk}/").status_code == 200


def test_another_users_installation_is_404(client_for, other_case) -> None:  # type: ignore[no-untyped-def]
    for role in (Role.USER_AGENT, Role.USER_VIEWER):
        assert client_for(role).get(f"/installations/{other_case.installation_id}/").status_code == 404


def test_unknown_installation_is_404(dcc_client, db) -> None:  # type: ignore[no-untyped-def]
    assert dcc_client.get("/installations/987654/").status_code == 404
