"""Settings are driven by the environment, and the infrastructure pieces are wired up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from mehr_site.celery import app

BASE_DIR = Path(__file__).resolve().parent.parent

_PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": str(settings.CACHES["default"]["LOCATION"]),
    "worker_max_age": settings.MEHR_HEALTH_WORKER_MAX_AGE_SECONDS,
    "imports": list(settings.CELERY_IMPORTS),
}))
"""


def _settings_with(tmp_path: Path, **env: str) -> dict:
    """Import the settings in a fresh interpreter with exactly these service variables."""
    environ = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("MEHR_")
    }
    environ.update({"DJANGO_SETTINGS_MODULE": "mehr_site.settings", "MEHR_VAR_DIR": str(tmp_path), **env})
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + _PROBE],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_bare_machine_defaults_to_sqlite_filesystem_broker_and_file_cache(tmp_path):
    conf = _settings_with(tmp_path)

    assert conf["engine"] == "django.db.backends.sqlite3"
    assert conf["broker"] == "filesystem://"
    assert conf["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert conf["cache_location"] == str(tmp_path / "cache")
    assert conf["worker_max_age"] == 60
    assert "mehr_site.tasks" in conf["imports"]
    for sub in ("out", "processed", "control"):
        assert (tmp_path / "broker" / sub).is_dir()


def test_service_urls_switch_to_postgres_redis_and_redis_cache(tmp_path):
    conf = _settings_with(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.example:5432/mehr",
        REDIS_URL="redis://cache.example:6379/3",
        MEHR_HEALTH_WORKER_MAX_AGE_SECONDS="90",
    )

    assert conf["engine"] == "django.db.backends.postgresql"
    assert conf["broker"] == "redis://cache.example:6379/3"
    assert conf["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert conf["cache_location"] == "redis://cache.example:6379/3"
    assert conf["worker_max_age"] == 90


def test_worker_loads_site_tasks():
    """mehr_site is not an installed app: the worker must still register its tasks."""
    app.loader.import_default_modules()
    assert "mehr_site.tasks.heartbeat" in app.tasks


def test_healthz_is_routed():
    from django.urls import resolve

    from mehr_site.health import healthz

    assert resolve("/healthz").func is healthz


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_is_really_postgres(is_postgres):
    assert is_postgres
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")
