"""The retry engine's admin: pages render, actions go through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from retries.models import InstallationRetries, MigrationAttempt, PauseScope, RetryPause, RetryPolicy
from retries.services import migration_schedule
from tests.factories import InstallationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, dcc):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "name",
    ["retrypolicy", "migrationattempt", "sessionattempt", "retrypause", "installationretries", "checkretirement",
     "simulatorbehaviour", "simulatorcall"],
)
def test_changelists_render(admin_client, name: str, catalogue) -> None:  # type: ignore[no-untyped-def]
    migration_schedule(installation=InstallationFactory())
    response = admin_client.get(reverse(f"admin:retries_{name}_changelist"))
    assert response.status_code == 200


def test_policy_change_form_validates_and_bumps_revision(admin_client) -> None:  # type: ignore[no-untyped-def]
    policy = RetryPolicy.objects.get(name="Default (active)")
    url = reverse("admin:retries_retrypolicy_change", args=[policy.pk])
    assert admin_client.get(url).status_code == 200
    form = {
        f.name: getattr(policy, f.attname) for f in RetryPolicy._meta.fields
        if f.editable and f.name not in ("id", "mehr_version", "created_at", "updated_at")
    }
    form.update({"session_timeout_seconds": 100_000, "mehr_version": "", "window_opens_at": "00:00"})
    response = admin_client.post(url, {k: ("on" if v is True else "" if v is False else v) for k, v in form.items()})
    assert response.status_code == 200 and "At most" in response.content.decode()
    form["session_timeout_seconds"] = 240
    response = admin_client.post(url, {k: ("on" if v is True else "" if v is False else v) for k, v in form.items()})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.session_timeout_seconds == 240 and policy.revision == 2


def test_installation_actions(admin_client, catalogue) -> None:  # type: ignore[no-untyped-def]
    installation = InstallationFactory()
    url = reverse("admin:retries_installationretries_changelist")
    admin_client.post(url, {"action": "schedule_now", "_selected_action": [installation.pk]})
    assert MigrationAttempt.objects.filter(installation=installation, outcome="SCHEDULED").exists()
    admin_client.post(url, {"action": "pause", "_selected_action": [installation.pk]})
    assert RetryPause.objects.filter(installation=installation, is_active=True).exists()
    admin_client.post(url, {"action": "resume", "_selected_action": [installation.pk]})
    admin_client.post(url, {"action": "cancel_pending", "_selected_action": [installation.pk]})
    assert MigrationAttempt.objects.get(installation=installation).outcome == "CANCELLED"
    assert InstallationRetries.objects.filter(pk=installation.pk).exists()


def test_kill_switch_from_the_admin(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(reverse("admin:retries_retrypause_add"), {"scope": PauseScope.GLOBAL, "reason": "S1SP down"})
    assert response.status_code == 302
    pause = RetryPause.objects.get(is_active=True)
    assert pause.scope == PauseScope.GLOBAL and pause.paused_by.username == "root"
    admin_client.post(reverse("admin:retries_retrypause_changelist"), {"action": "resume", "_selected_action": [pause.pk]})
    pause.refresh_from_db()
    assert not pause.is_active and pause.resumed_by.username == "root"
