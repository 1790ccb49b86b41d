"""Project-wide test configuration.

Markers (registered in pyproject.toml, ``--strict-markers`` is on):

* ``@pytest.mark.postgres`` — skipped unless the default database is PostgreSQL.
* ``@pytest.mark.redis`` — skipped unless REDIS_URL is set and Redis answers a PING.
* ``celery_worker``, ``browser``, ``slow`` — labels for selection (``-m "not slow"``); no skipping.

Fixtures:

* ``is_postgres`` — bool, the default database is PostgreSQL.
* ``redis_url`` — the configured REDIS_URL; skips the test when it is unset or Redis does not answer.

With ``CI=true`` a skipped or xfailed test fails the run (exit status 1, reason printed at the end):
CI runs with every service, so a skip there means something is not being tested.

Area-specific fixtures go in ``tests/<area>/conftest.py``.
"""

from __future__ import annotations

import functools
import os

import pytest
from django.conf import settings


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _database_is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@functools.cache
def _redis_problem() -> str | None:
    """Why Redis cannot be used (None when it can); asked once per session."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return "REDIS_URL is not set (running on the filesystem broker)"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"Redis at REDIS_URL does not answer: {exc}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and not _database_is_postgres():
        pytest.skip("needs PostgreSQL: DATABASE_URL is not a PostgreSQL URL (running on SQLite)")
    if item.get_closest_marker("redis"):
        problem = _redis_problem()
        if problem:
            pytest.skip(f"needs Redis: {problem}")


@pytest.fixture(scope="session")
def is_postgres() -> bool:
    return _database_is_postgres()


@pytest.fixture(scope="session")
def redis_url() -> str:
    problem = _redis_problem()
    if problem:
        pytest.skip(f"needs Redis: {problem}")
    return settings.REDIS_URL


# --- CI: a skip is a failure ----------------------------------------------------------------

_not_run: list[str] = []


def _record(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        _not_run.append(f"XFAIL {report.nodeid}: {report.wasxfail or 'xfail'}")
    else:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _not_run.append(f"SKIP  {report.nodeid}: {reason}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _record(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _ci() and _not_run and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    if _ci() and _not_run:
        terminalreporter.section("CI=true: skipped/xfailed tests fail the run", sep="=", red=True, bold=True)
        for line in _not_run:
            terminalreporter.line(line, red=True)
        terminalreporter.line(
            f"{len(_not_run)} test(s) did not run in CI; provide the missing service or fix the test.",
            red=True,
            bold=True,
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    # PBKDF2 at production strength costs ~0.3 s per password; tests make many accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Domain fixtures shared by every area ------------------------------------------------------
from cases.domain import Role  # noqa: E402
from tests.factories import CheckFactory, DccFactory, InstallationFactory, SupplierFactory, make_user  # noqa: E402


@pytest.fixture
def dcc(db):  # type: ignore[no-untyped-def]
    return DccFactory()


@pytest.fixture
def supplier(db):  # type: ignore[no-untyped-def]
    return SupplierFactory(code="supplier-a", name="Supplier A")


@pytest.fixture
def other_supplier(db):  # type: ignore[no-untyped-def]
    return SupplierFactory(code="supplier-b", name="Supplier B")


@pytest.fixture
def people(dcc, supplier):  # type: ignore[no-untyped-def]
    """One account per role; User roles belong to `supplier`. SYSTEM is None."""
    accounts = {
        role: make_user(role, dcc if role.startswith("DCC") else supplier, username=role.lower())
        for role in Role.values
        if role != Role.SYSTEM
    }
    accounts[Role.SYSTEM] = None
    return accounts


@pytest.fixture
def installation(supplier):  # type: ignore[no-untyped-def]
    return InstallationFactory(responsible_supplier=supplier)


@pytest.fixture
def check(db):  # type: ignore[no-untyped-def]
    return CheckFactory(code="CM001")
