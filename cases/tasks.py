"""Celery tasks of the cases app: thin interfaces over services."""

from celery import shared_task

from cases.services import cases_close_quiet


@shared_task(name="cases.tasks.close_quiet_cases")
def close_quiet_cases() -> int:
    return cases_close_quiet()
