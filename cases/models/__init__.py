"""Models of the cases app, one module per concept."""

from .calendar import NonWorkingDay
from .cases import Attachment, Case, CaseEvent, CaseOccurrence, ChecklistItem
from .catalogue import Check, MehrVersion, ProcedureStep
from .dashboard import (
    DashboardCaseRollup,
    DashboardCaseTotal,
    DashboardRetryRollup,
    DashboardRollupState,
    DashboardSupplierRollup,
)
from .installations import Device, Installation
from .notifications import (
    DeadLetter,
    DeliveryAttempt,
    NotificationPreference,
    NotificationSettings,
    OutboxMessage,
)
from .organisations import Membership, Organisation
from .reports import CsvImport, DailyReport
from .sla import SlaClock, SlaInterval
from .tokens import ApiToken, IdempotencyRecord

__all__ = [
    "ApiToken",
    "Attachment",
    "Case",
    "CaseEvent",
    "CaseOccurrence",
    "Check",
    "ChecklistItem",
    "CsvImport",
    "DailyReport",
    "DashboardCaseRollup",
    "DashboardCaseTotal",
    "DashboardRetryRollup",
    "DashboardRollupState",
    "DashboardSupplierRollup",
    "DeadLetter",
    "DeliveryAttempt",
    "Device",
    "IdempotencyRecord",
    "Installation",
    "MehrVersion",
    "Membership",
    "NonWorkingDay",
    "NotificationPreference",
    "NotificationSettings",
    "Organisation",
    "OutboxMessage",
    "ProcedureStep",
    "SlaClock",
    "SlaInterval",
]
