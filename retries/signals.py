"""Signals of the retry engine (sent inside the writing transaction, like cases.signals).

Receivers that talk to the outside world must defer that with ``transaction.on_commit``.
"""

from django.dispatch import Signal

# sender=MigrationAttempt; kwargs: attempt. A window was scheduled (dormant: notify the supplier).
migration_scheduled = Signal()
# sender=MigrationAttempt; kwargs: attempt. The attempt reached its outcome (succeeded/partial/failed).
migration_finished = Signal()
