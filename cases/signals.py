"""Signals that let other apps react to case changes inside the same transaction.

They are sent synchronously while the service's transaction is open, so a receiver's writes
(e.g. a retry schedule, an outbox row) commit or roll back together with the change. Receivers
that talk to the outside world must defer that with ``transaction.on_commit``.
"""

from django.dispatch import Signal

# sender=Case; kwargs: case, transition (name), actor, event (CaseEvent), fields (dict)
case_transitioned = Signal()
# sender=CaseEvent; kwargs: event
case_event_recorded = Signal()
# sender=CaseEvent; kwargs: event_ids (list of CaseEvent pks). Sent once by set-based services
# (case_raise_batch) instead of case_event_recorded per event: they apply the SLA and notification
# effects themselves, set-based; a receiver that needs the events reads them by id.
case_events_recorded = Signal()
