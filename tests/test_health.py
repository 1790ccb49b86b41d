"""GET /healthz and the worker heartbeat."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery.signals import worker_ready
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from kombu import Connection

from mehr_site import health
from mehr_site.celery import app
from mehr_site.tasks import heartbeat

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def private_cache():
    """Same cache backend as configured, under a key prefix of our own, so a worker running
    against the same Redis / var/cache cannot refresh (or clear) the heartbeat under the test."""
    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"mehr-test-{uuid.uuid4().hex[:8]}"}}
    with override_settings(CACHES=caches):
        yield
        cache.delete(health.WORKER_HEARTBEAT_KEY)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the with-block ends


def _get(client):
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response, response.json()


@pytest.mark.django_db
def test_healthy_with_fresh_heartbeat(client):
    health.write_worker_heartbeat("worker1@test", source="test")

    response, body = _get(client)

    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) >= {"database", "broker", "worker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["worker"]["hostname"] == "worker1@test"
    assert body["checks"]["worker"]["age_seconds"] < 5
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_missing_heartbeat_is_503(client):
    response, body = _get(client)

    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["checks"]["worker"]["ok"] is False
    assert "no worker heartbeat" in body["checks"]["worker"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.django_db
@override_settings(MEHR_HEALTH_WORKER_MAX_AGE_SECONDS=30)
def test_stale_heartbeat_is_503(client):
    beat = health.write_worker_heartbeat("worker1@test", source="test")
    cache.set(health.WORKER_HEARTBEAT_KEY, {**beat, "at": time.time() - 31}, timeout=None)

    response, body = _get(client)

    assert response.status_code == 503
    worker = body["checks"]["worker"]
    assert worker["ok"] is False
    assert worker["age_seconds"] >= 31
    assert worker["max_age_seconds"] == 30


@pytest.mark.django_db
def test_unreachable_broker_is_503(client, monkeypatch):
    health.write_worker_heartbeat("worker1@test", source="test")
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{_closed_port()}/0")
    monkeypatch.setitem(app.conf, "broker_transport_options", {})

    started = time.monotonic()
    response, body = _get(client)

    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert body["checks"]["broker"]["ok"] is False
    assert "error" in body["checks"]["broker"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is True


@pytest.mark.django_db
def test_failing_registered_check_degrades_without_crashing(client, monkeypatch):
    health.write_worker_heartbeat("worker1@test", source="test")

    def exploding() -> dict:
        raise RuntimeError("backlog table missing")

    monkeypatch.setitem(health.CHECKS, "due_backlog", exploding)

    response, body = _get(client)

    assert response.status_code == 503
    assert body["checks"]["due_backlog"] == {
        "ok": False,
        "error": "RuntimeError: backlog table missing",
        "ms": body["checks"]["due_backlog"]["ms"],
    }
    assert body["checks"]["worker"]["ok"] is True


def test_post_is_not_allowed(client):
    assert client.post("/healthz").status_code == 405


def test_heartbeat_task_writes_cache():
    before = time.time()

    heartbeat.apply().get()

    beat = cache.get(health.WORKER_HEARTBEAT_KEY)
    assert beat is not None
    assert before <= beat["at"] <= time.time()
    assert beat["source"] == "task"
    assert beat["hostname"]
    assert health.check_worker()["ok"] is True


def test_worker_ready_signal_writes_cache():
    class Consumer:  # stands in for the worker's consumer, the signal's sender
        hostname = "celery@box1"

    worker_ready.send(sender=Consumer())

    beat = cache.get(health.WORKER_HEARTBEAT_KEY)
    assert beat["hostname"] == "celery@box1"
    assert beat["source"] == "worker_ready"


def test_heartbeat_is_scheduled_by_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["worker-heartbeat"]
    assert entry["task"] == heartbeat.name == "mehr_site.tasks.heartbeat"
    assert entry["schedule"].run_every.total_seconds() <= settings.MEHR_HEALTH_WORKER_MAX_AGE_SECONDS / 2


@pytest.mark.redis
@pytest.mark.django_db
def test_healthy_on_real_redis(client, redis_url):
    import redis

    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    health.write_worker_heartbeat("worker1@test", source="test")
    # The heartbeat really is in Redis, where every web and worker process sees it.
    client_ = redis.Redis.from_url(redis_url)
    try:
        assert client_.exists(cache.make_key(health.WORKER_HEARTBEAT_KEY)) == 1
    finally:
        client_.close()

    response, body = _get(client)

    assert response.status_code == 200, body
    assert "redis" in body["checks"]["broker"]["transport"].lower()


@pytest.mark.celery_worker
@pytest.mark.slow
def test_real_worker_writes_heartbeat_on_start_and_runs_heartbeat_task(tmp_path):
    """A real `celery worker` process finds mehr_site.tasks (CELERY_IMPORTS), marks itself ready
    and runs the heartbeat task sent through the broker."""
    node = f"mehrtest-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    queue = f"mehrtest-{uuid.uuid4().hex[:8]}"
    prefix = f"mehr-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mehr_site.settings",
        "MEHR_VAR_DIR": str(tmp_path),
        "MEHR_CACHE_KEY_PREFIX": prefix,
    }
    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    if settings.REDIS_URL:
        connection = app.connection_for_write()
    else:
        # Worker and test share a private broker folder and cache under tmp_path.
        caches["default"]["LOCATION"] = str(tmp_path / "cache")
        folder = tmp_path / "broker" / "out"
        folder.mkdir(parents=True)
        connection = Connection(
            "filesystem://",
            transport_options={
                "data_folder_in": str(folder),
                "data_folder_out": str(folder),
                "control_folder": str(tmp_path / "broker" / "control"),
            },
        )
    extra = [] if settings.REDIS_URL else ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    command = [sys.executable, "-m", "celery", "-A", "mehr_site", "worker", "-l", "info", "-P", "solo"]
    worker = subprocess.Popen(
        [*command, "-n", node, "-Q", queue, *extra],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with override_settings(CACHES=caches):

            def wait_for(source: str) -> dict:
                deadline = time.monotonic() + 45
                while time.monotonic() < deadline:
                    beat = cache.get(health.WORKER_HEARTBEAT_KEY)
                    if beat and beat["hostname"] == node and beat["source"] == source:
                        return beat
                    assert worker.poll() is None, worker.stdout.read()
                    time.sleep(0.3)
                pytest.fail(f"no {source} heartbeat from {node}")

            wait_for("worker_ready")
            with connection:
                heartbeat.apply_async(queue=queue, connection=connection)
            assert wait_for("task")["at"] <= time.time()
            cache.delete(health.WORKER_HEARTBEAT_KEY)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
