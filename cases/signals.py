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
