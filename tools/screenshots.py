"""Screenshots of the main screens for docs/screenshots/ (and for looking at the UI while building it).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_ui_shots \\
        .venv/bin/python tools/screenshots.py --port 8510 --out docs/screenshots

The database named by DATABASE_URL is emptied and filled with tools/ui_demo.py's data. Uses Debian's
/usr/bin/chromium through Playwright (no browser download).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mehr_site.settings")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def prepare() -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    call_command("load_catalogue", verbosity=0)
    from tools.ui_demo import build

    return build()


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not answer")


def capture(base: str, out: Path, data: dict) -> None:
    from playwright.sync_api import sync_playwright

    from cases.models import Case

    out.mkdir(parents=True, exist_ok=True)
    awaiting_user = Case.objects.filter(state="AWAITING_USER", supplier__code="northwind").order_by("pk").first()
    raised = Case.objects.filter(state="RAISED").order_by("pk").first()
    from django.db.models import Count

    from retries.models import SessionAttempt

    busiest = (
        SessionAttempt.objects.values("installation_id").annotate(n=Count("id")).order_by("-n").first() or {}
    ).get("installation_id", awaiting_user.installation_id)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

        def session(username: str, width: int = 1440, height: int = 900):  # type: ignore[no-untyped-def]
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", "mehr-demo-password")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            return context, page

        ctx = browser.new_context(viewport={"width": 1440, "height": 800})
        page = ctx.new_page()
        page.goto(f"{base}/accounts/login/")
        page.screenshot(path=str(out / "login.png"))
        ctx.close()

        ctx, page = session("priya.shah")
        page.goto(f"{base}/")
        page.screenshot(path=str(out / "queue-dcc.png"), full_page=False)
        page.goto(f"{base}/cases/{raised.reference}/")
        page.click("#action-triage summary")
        page.screenshot(path=str(out / "case-dcc-triage.png"), full_page=True)
        page.goto(f"{base}/dashboard/")
        page.screenshot(path=str(out / "dashboard-dcc.png"), full_page=True)
        page.goto(f"{base}/installations/{busiest}/")
        page.screenshot(path=str(out / "installation.png"), full_page=True)
        ctx.close()

        ctx, page = session("amy.clarke")
        page.goto(f"{base}/?state=AWAITING_USER")
        page.screenshot(path=str(out / "queue-user.png"))
        page.goto(f"{base}/cases/{awaiting_user.reference}/")
        page.screenshot(path=str(out / "case-user.png"), full_page=True)
        page.goto(f"{base}/dashboard/")
        page.screenshot(path=str(out / "dashboard-user.png"), full_page=True)
        page.goto(f"{base}/cases/MEHR-999999/")
        page.screenshot(path=str(out / "not-found.png"))
        ctx.close()

        ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
        page = ctx.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "amy.clarke")
        page.fill("#id_password", "mehr-demo-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.screenshot(path=str(out / "queue-phone.png"))
        page.goto(f"{base}/cases/{awaiting_user.reference}/")
        page.screenshot(path=str(out / "case-phone.png"))
        ctx.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8510)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--serve-only", action="store_true", help="build the data and keep the server running")
    args = parser.parse_args()
    data = prepare()
    env = {**os.environ, "DEBUG": "0"}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{args.port}", "--noreload", "--insecure"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_for(f"{base}/accounts/login/")
        if args.serve_only:
            print(f"serving on {base} (pid {server.pid}); Ctrl-C stops")
            server.wait()
        else:
            capture(base, Path(args.out), data)
            print(f"screenshots in {args.out}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
