"""Models of the cases app, one module per concept."""

from .calendar import NonWorkingDay
from .cases import Attachment, Case, CaseEvent, CaseOccurrence, ChecklistItem
from .catalogue import Check, MehrVersion, ProcedureStep
from .installations import Device, Installation
from .organisations import Membership, Organisation
from .tokens import ApiToken, IdempotencyRecord

__all__ = [
    "ApiToken",
    "Attachment",
    "Case",
    "CaseEvent",
    "CaseOccurrence",
    "Check",
    "ChecklistItem",
    "Device",
    "IdempotencyRecord",
    "Installation",
    "MehrVersion",
    "Membership",
    "NonWorkingDay",
    "Organisation",
    "ProcedureStep",
]
