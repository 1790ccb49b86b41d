"""Installations (with devices and cases) and the check catalogue."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from cases.domain import Cohort, Role
from cases.models import Check
from tests.factories import DeviceFactory, InstallationFactory

pytestmark = pytest.mark.django_db


def test_installation_list_filters_and_detail(clients, supplier, case):
    ioc = InstallationFactory(responsible_supplier=supplier, cohort=Cohort.IOC)
    device = DeviceFactory(installation=ioc)
    client = clients[Role.USER_VIEWER]
    ids = [row["id"] for row in client.get("/api/v1/installations/").json()["results"]]
    assert ids == sorted([case.installation_id, ioc.pk])
    assert [r["id"] for r in client.get("/api/v1/installations/?cohort=IOC").json()["results"]] == [ioc.pk]
    assert [r["id"] for r in client.get(f"/api/v1/installations/?device_id={device.eui64}").json()["results"]] == [ioc.pk]
    assert [r["id"] for r in client.get(f"/api/v1/installations/?mpxn={ioc.mprn}").json()["results"]] == [ioc.pk]
    detail = client.get(f"/api/v1/installations/{ioc.pk}/").json()
    assert detail["devices"] == [
        {"device_id": device.eui64, "device_type": device.device_type, "model": device.model, "firmware_version": device.firmware_version}
    ]
    assert detail["cases"] == [] and detail["migration_attempts"] == [] and detail["session_attempts"] == []
    with_case = client.get(f"/api/v1/installations/{case.installation_id}/").json()
    assert [c["reference"] for c in with_case["cases"]] == [case.reference]
    assert client.get("/api/v1/installations/999999/").status_code == 404


def test_check_catalogue_with_procedures(clients):
    call_command("load_catalogue", verbosity=0)
    client = clients[Role.USER_AGENT]
    body = client.get("/api/v1/checks/?page_size=200").json()
    codes = [c["code"] for c in body["results"]]
    assert len(codes) == Check.objects.count() and "MA110" in codes and "CM001" in codes
    cm001 = client.get("/api/v1/checks/cm001/").json()
    assert cm001["code"] == "CM001" and cm001["procedure"] and [s["order"] for s in cm001["procedure"]] == sorted(
        s["order"] for s in cm001["procedure"]
    )
    assert client.get("/api/v1/checks/NOPE/").status_code == 404
    stage = client.get("/api/v1/checks/?stage=COMMUNICATIONS").json()["results"]
    assert stage and all(c["stage"] == "COMMUNICATIONS" for c in stage)
    in_force = {c["code"] for c in client.get("/api/v1/checks/?in_force=true&page_size=200").json()["results"]}
    assert in_force == set(Check.objects.in_force().values_list("code", flat=True))
    ioc = {c["code"] for c in client.get("/api/v1/checks/?cohort=IOC&page_size=200").json()["results"]}
    assert ioc == {c.code for c in Check.objects.all() if c.applies_to("IOC")}
