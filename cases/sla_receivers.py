"""Signal receivers for SLA clocks and notifications (connected in CasesConfig.ready()).

Both run inside the service's transaction, so clocks, SLA events and outbox rows commit or roll
back together with the case change that caused them.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from cases.models import CaseEvent
from cases.services.notifications import notifications_on_event
from cases.services.sla import sla_on_event  # also connects the NonWorkingDay receivers
from cases.signals import case_event_recorded


@receiver(case_event_recorded, sender=CaseEvent, dispatch_uid="cases.sla_and_notifications")
def on_case_event(sender: Any, event: CaseEvent, **kwargs: Any) -> None:
    sla_on_event(event=event)
    notifications_on_event(event=event)
