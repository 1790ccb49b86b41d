"""The domain's vocabulary: every enumeration the product uses, in MEHR.md's words."""

from __future__ import annotations

from django.db import models


class OrganisationKind(models.TextChoices):
    DCC = "DCC", "DCC"
    USER = "USER", "User (supplier)"
    SMSO = "SMSO", "SMETS1 SMSO"
    DCO = "DCO", "Dual Control Organisation"
    NETWORK_OPERATOR = "NETWORK_OPERATOR", "Network operator"


class Role(models.TextChoices):
    DCC_OPERATOR = "DCC_OPERATOR", "DCC operator"
    DCC_MANAGER = "DCC_MANAGER", "DCC manager"
    DCC_INTEGRATION = "DCC_INTEGRATION", "DCC system (integration)"
    USER_AGENT = "USER_AGENT", "User agent"
    USER_VIEWER = "USER_VIEWER", "User viewer"
    USER_INTEGRATION = "USER_INTEGRATION", "User system (integration)"
    # Not a membership role: the product itself (beat tasks, the retry engine).
    SYSTEM = "SYSTEM", "System"


DCC_ROLES = frozenset({Role.DCC_OPERATOR, Role.DCC_MANAGER, Role.DCC_INTEGRATION})
DCC_STAFF_ROLES = frozenset({Role.DCC_OPERATOR, Role.DCC_MANAGER})
USER_ROLES = frozenset({Role.USER_AGENT, Role.USER_VIEWER, Role.USER_INTEGRATION})
USER_ACTING_ROLES = frozenset({Role.USER_AGENT, Role.USER_INTEGRATION})


class Cohort(models.TextChoices):
    IOC = "IOC", "IOC"
    MOC_MDS = "MOC_MDS", "MOC (MDS)"
    MOC_SECURE = "MOC_SECURE", "MOC (Secure)"
    FOC = "FOC", "FOC"


class InstallationType(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    DORMANT = "DORMANT", "Dormant"
    MIXED = "MIXED", "Mixed"


class MigrationStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SCHEDULED = "SCHEDULED", "Scheduled"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    MIGRATED = "MIGRATED", "Migrated"
    PARTIALLY_MIGRATED = "PARTIALLY_MIGRATED", "Partially migrated (electricity only)"
    FAILED = "FAILED", "Failed (awaiting retry or correction)"
    ROLLED_BACK = "ROLLED_BACK", "Rolled back to SMSO"
    EXCLUDED = "EXCLUDED", "Excluded"


class DeviceType(models.TextChoices):
    ESME = "ESME", "Electricity meter (ESME)"
    GSME = "GSME", "Gas meter (GSME)"
    CHF = "CHF", "Communications Hub Function (CHF)"
    GPF = "GPF", "Gas Proxy Function (GPF)"
    PPMID = "PPMID", "Prepayment device (PPMID)"
    IHD = "IHD", "In-home display (IHD)"


class Stage(models.TextChoices):
    MA_FILE_VALIDATION = "MA_FILE_VALIDATION", "MA file validation"
    MA_RECORD_VALIDATION = "MA_RECORD_VALIDATION", "MA record validation"
    PRE_MIGRATION = "PRE_MIGRATION", "Pre-migration"
    COMMUNICATIONS = "COMMUNICATIONS", "Communications"
    DATA_VALIDATION = "DATA_VALIDATION", "Data validation"
    CREDENTIALS = "CREDENTIALS", "Credentials"
    DEVICE_HAN = "DEVICE_HAN", "Device / HAN"
    COMMISSIONING = "COMMISSIONING", "Commissioning"
    POST_MIGRATION = "POST_MIGRATION", "Post-migration"


class Category(models.TextChoices):
    MA_FILE_REJECTED = "MA_FILE_REJECTED", "MA file rejected"
    MA_RECORD_REJECTED = "MA_RECORD_REJECTED", "MA record rejected"
    PRE_MIGRATION = "PRE_MIGRATION", "Pre-migration"
    COMMUNICATIONS = "COMMUNICATIONS", "Communications"
    DATA_VALIDATION = "DATA_VALIDATION", "Data validation"
    CREDENTIALS_SECURITY = "CREDENTIALS_SECURITY", "Credentials / security"
    DEVICE_HAN = "DEVICE_HAN", "Device / HAN"
    COMMISSIONING = "COMMISSIONING", "Commissioning"
    POST_MIGRATION = "POST_MIGRATION", "Post-migration"


class Party(models.TextChoices):
    DCC = "DCC", "DCC"
    USER = "USER", "User"
    SMSO = "SMSO", "SMSO"
    DCO = "DCO", "DCO"


class ExcludedCategory(models.TextChoices):
    """TMAD clause 18 Excluded Categories (DCC stops pursuing migration)."""

    MISSING_MASTER_KEYS = "MISSING_MASTER_KEYS", "Missing master keys"
    NO_WAN_BEFORE_MIGRATION = "NO_WAN_BEFORE_MIGRATION", "No WAN communications before migration"
    NO_WAN_DURING_MIGRATION = "NO_WAN_DURING_MIGRATION", "No WAN communications while attempting migration"
    MIGRATION_ATTEMPTS_EXHAUSTED = "MIGRATION_ATTEMPTS_EXHAUSTED", "At least five migration attempts"
    SUPPLIER_DECLARED_UNMIGRATABLE = "SUPPLIER_DECLARED_UNMIGRATABLE", "Supplier stated the meter cannot be migrated"


class StepKind(models.TextChoices):
    INVESTIGATE = "INVESTIGATE", "Investigate"
    CORRECT = "CORRECT", "Correct"


class CaseState(models.TextChoices):
    RAISED = "RAISED", "Raised"
    TRIAGED = "TRIAGED", "Triaged"
    AWAITING_DCC = "AWAITING_DCC", "Awaiting DCC"
    AWAITING_USER = "AWAITING_USER", "Awaiting User"
    AWAITING_SMSO = "AWAITING_SMSO", "Awaiting SMSO"
    RETRY_SCHEDULED = "RETRY_SCHEDULED", "Retry scheduled"
    RETRYING = "RETRYING", "Retrying"
    ESCALATED = "ESCALATED", "Escalated"
    EXCLUSION_PROPOSED = "EXCLUSION_PROPOSED", "Exclusion proposed"
    RESOLVED = "RESOLVED", "Resolved"
    RESOLVED_PARTIAL = "RESOLVED_PARTIAL", "Resolved (partial)"
    EXCLUDED = "EXCLUDED", "Excluded"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"
    CLOSED = "CLOSED", "Closed"


AWAITING_STATES = (CaseState.AWAITING_DCC, CaseState.AWAITING_USER, CaseState.AWAITING_SMSO)
OPEN_STATES = (
    CaseState.RAISED,
    CaseState.TRIAGED,
    *AWAITING_STATES,
    CaseState.RETRY_SCHEDULED,
    CaseState.RETRYING,
    CaseState.ESCALATED,
    CaseState.EXCLUSION_PROPOSED,
)
FINISHED_STATES = (CaseState.RESOLVED, CaseState.RESOLVED_PARTIAL, CaseState.EXCLUDED, CaseState.WITHDRAWN)


class Priority(models.IntegerChoices):
    CRITICAL = 1, "P1 critical"
    HIGH = 2, "P2 high"
    NORMAL = 3, "P3 normal"
    LOW = 4, "P4 low"


class EventKind(models.TextChoices):
    RAISED = "RAISED", "Raised"
    OCCURRENCE = "OCCURRENCE", "Occurrence added"
    TRANSITION = "TRANSITION", "Transition"
    ASSIGNMENT = "ASSIGNMENT", "Assignment"
    NOTE = "NOTE", "Note"
    CHECKLIST = "CHECKLIST", "Checklist step"
    ATTACHMENT = "ATTACHMENT", "Attachment"
    RETRY = "RETRY", "Retry / session attempt"
    NOTIFICATION = "NOTIFICATION", "Notification"
    SLA = "SLA", "SLA clock"
    REEVALUATION = "REEVALUATION", "Re-evaluation"


class NoteKind(models.TextChoices):
    INVESTIGATION = "INVESTIGATION", "Investigation"
    CORRECTION = "CORRECTION", "Correction"
    COMMUNICATION = "COMMUNICATION", "Communication"


class Visibility(models.TextChoices):
    SHARED = "SHARED", "Shared with the User"
    INTERNAL = "INTERNAL", "DCC internal"
