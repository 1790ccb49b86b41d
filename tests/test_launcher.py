"""The `make run` launcher: what it starts and what it prints."""

from __future__ import annotations

import sys
import types

from django.conf import settings

from mehr_site import launcher


def test_starts_web_one_worker_on_all_queues_and_beat_under_var():
    cmds = launcher.commands(settings, "127.0.0.1", "8101")

    assert set(cmds) == {"web", "worker", "beat"}
    assert cmds["web"][-2:] == ["127.0.0.1:8101", "--noreload"]
    worker = cmds["worker"]
    assert worker[worker.index("-Q") + 1] == "celery,sessions,notifications,reports"
    assert worker[worker.index("--concurrency") + 1] == "2"
    beat = cmds["beat"]
    assert beat[beat.index("-s") + 1].startswith(str(settings.VAR_DIR))


def test_prints_demo_accounts_when_cases_demo_provides_them(monkeypatch):
    demo = types.ModuleType("cases.demo")
    demo.DEMO_ACCOUNTS = [("alice", "s3cret-pass", "supplier_agent", "Example Energy")]
    monkeypatch.setitem(sys.modules, "cases.demo", demo)

    text = launcher.demo_accounts_text()

    assert "alice" in text
    assert "s3cret-pass" in text
    assert "Example Energy" in text


def test_says_to_seed_when_there_are_no_demo_accounts(monkeypatch):
    monkeypatch.setitem(sys.modules, "cases.demo", None)  # import fails

    assert "seed_demo" in launcher.demo_accounts_text()
