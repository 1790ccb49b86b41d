"""Celery tasks of the cases app: thin interfaces over services."""

from celery import shared_task

from cases.services import cases_close_quiet
from cases.services.notifications import notification_send, notifications_dispatch
from cases.services.reports import reports_generate_daily
from cases.services.sla import sla_scan as _sla_scan


@shared_task(name="cases.tasks.close_quiet_cases")
def close_quiet_cases() -> int:
    return cases_close_quiet()


# --- SLA clocks, notifications, reports (routed by CELERY_TASK_ROUTES) -------------------------
@shared_task(name="cases.tasks.sla_scan")
def sla_scan() -> dict:
    """Beat: warn about and breach/escalate SLA clocks that are due."""
    return _sla_scan().as_dict()


@shared_task(name="cases.tasks.sla_recompute")
def sla_recompute() -> int:
    """Enqueued when DCC non-working days change: move the deadlines of running clocks."""
    from cases.services.sla import sla_recompute_running

    return sla_recompute_running()


@shared_task(name="cases.tasks.notifications_send")
def notifications_send(pk: int) -> dict:
    """Enqueued on commit after an outbox row is written: send it now if still due."""
    return notification_send(pk=pk).as_dict()


@shared_task(name="cases.tasks.notifications_dispatch")
def notifications_dispatch_due() -> dict:
    """Beat: send due outbox messages (retries, and anything whose enqueue was lost)."""
    return notifications_dispatch().as_dict()


@shared_task(name="cases.tasks.reports_daily")
def reports_daily(report_date: str | None = None) -> int:
    """Beat: generate yesterday's migration exceptions reports (per User and for DCC)."""
    from datetime import date

    return len(reports_generate_daily(report_date=date.fromisoformat(report_date) if report_date else None))


# --- Dashboard rollups (routed to the reports queue) --------------------------------------------
@shared_task(name="cases.tasks.dashboard_rollup_rebuild")
def dashboard_rollup_rebuild() -> dict:
    """Beat: rebuild the dashboard's open-case and retry-outcome rollups (cases.services.dashboard)."""
    from cases.services.dashboard import dashboard_rollup_rebuild as rebuild

    return rebuild().as_dict()
