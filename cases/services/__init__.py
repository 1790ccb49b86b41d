"""Case services: the only way anything in the cases app is written."""

from .events import event_record
from .installations import installation_update
from .maintenance import cases_close_quiet
from .notes import case_add_attachment, case_add_note, case_tick_checklist
from .raising import RaiseResult, case_raise
from .raising_batch import RaiseItem, RaiseOutcome, case_raise_authorise, case_raise_batch
from .tokens import token_issue, token_revoke
from .transitions import TransitionOption, case_assign, case_transition, case_transition_options

__all__ = [
    "RaiseItem",
    "RaiseOutcome",
    "RaiseResult",
    "TransitionOption",
    "case_add_attachment",
    "case_add_note",
    "case_assign",
    "case_raise",
    "case_raise_authorise",
    "case_raise_batch",
    "case_tick_checklist",
    "case_transition",
    "case_transition_options",
    "cases_close_quiet",
    "event_record",
    "installation_update",
    "token_issue",
    "token_revoke",
]
