"""Retry engine services: the only way retry state is written."""

from .claiming import due_backlog_lag_seconds, session_attempts_claim_due
from .common import ENGINE_SOURCE
from .control import installation_retry_cancel, retries_pause, retries_resume
from .dormant import installation_declare_unmigratable
from .reevaluation import cases_reevaluate_retired_check, check_retire, retired_checks_reevaluate_due
from .running import session_attempt_record, session_attempt_run, session_attempts_reap
from .scheduling import migration_schedule, migration_schedule_for_case

__all__ = [
    "ENGINE_SOURCE",
    "cases_reevaluate_retired_check",
    "check_retire",
    "due_backlog_lag_seconds",
    "installation_declare_unmigratable",
    "installation_retry_cancel",
    "migration_schedule",
    "migration_schedule_for_case",
    "retired_checks_reevaluate_due",
    "retries_pause",
    "retries_resume",
    "session_attempt_record",
    "session_attempt_run",
    "session_attempts_claim_due",
    "session_attempts_reap",
]
