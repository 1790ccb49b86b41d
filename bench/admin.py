"""Benchmark of the case admin on a national-scale dataset (not a test): response time and query count.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mehr_bench \\
        .venv/bin/python -m bench.admin --installations 300000 --cases 1000000

Makes the database hold the generated dataset (bench.common.ensure_dataset), then, through Django's
test client with a DCC account and a User-side staff account, times the case changelist (unfiltered,
filtered, searched by reference / MPAN / device ID), a case's change page and the event changelist.
Baseline in the same run: the admin index page (a bare admin view with the same middleware/session).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    append_section,
    count_queries,
    ensure_dataset,
    markdown_table,
    measure,
    setup_django,
    summary,
)

setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from cases.domain import OrganisationKind, Role  # noqa: E402
from cases.models import Case, Device, Membership, Organisation  # noqa: E402


def _account(username: str, *, superuser: bool = False, role: str = "", organisation: Organisation | None = None):  # type: ignore[no-untyped-def]
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": superuser}
    )
    if role and not Membership.objects.filter(user=user).exists():
        Membership.objects.create(user=user, organisation=organisation, role=role)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="cases"))
    return user


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--installations", type=int, default=300_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--session-attempts", type=int, default=0,
                        help="match an existing dataset that has session attempts (else it is regenerated)")
    parser.add_argument("--quick", action="store_true", help="10k cases, 5 repeats (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.installations, args.cases, args.repeat = 5_000, 10_000, 5
    ensure_dataset(installations=args.installations, cases=args.cases, users=args.users,
                   session_attempts=args.session_attempts)  # fmt: skip
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    dcc_admin = _account("bench-admin", superuser=True)
    biggest = (
        Case.objects.values("supplier").annotate(n=Count("id")).order_by("-n").values_list("supplier", flat=True).first()
    )
    supplier = Organisation.objects.get(pk=biggest, kind=OrganisationKind.USER)
    user_staff = _account("bench-user-staff", role=Role.USER_AGENT, organisation=supplier)
    sample = Case.objects.select_related("installation").order_by("-id").first()
    device = Device.objects.filter(installation_id=sample.installation_id).first()

    changelist = reverse("admin:cases_case_changelist")
    targets = [
        ("admin index (baseline)", dcc_admin, reverse("admin:index"), {}),
        ("case changelist, DCC, unfiltered", dcc_admin, changelist, {}),
        ("case changelist, DCC, state=AWAITING_USER", dcc_admin, changelist, {"state": "AWAITING_USER"}),
        ("case changelist, DCC, cohort=MOC_SECURE & open", dcc_admin, changelist,
         {"cohort": "MOC_SECURE", "open": "yes"}),
        ("case changelist, DCC, search reference", dcc_admin, changelist, {"q": sample.reference}),
        ("case changelist, DCC, search MPAN", dcc_admin, changelist, {"q": sample.installation.mpan or sample.installation.mprn}),
        ("case changelist, DCC, search device ID", dcc_admin, changelist, {"q": device.eui64 if device else "00-00-00-00-00-00-00-00"}),
        ("case changelist, User-side staff (largest supplier)", user_staff, changelist, {}),
        ("case changelist, User-side staff, state=AWAITING_USER", user_staff, changelist, {"state": "AWAITING_USER"}),
        ("case change page (with inlines)", dcc_admin, reverse("admin:cases_case_change", args=[sample.pk]), {}),
        ("event changelist, DCC", dcc_admin, reverse("admin:cases_caseevent_changelist"), {}),
    ]
    rows = []
    for label, user, url, params in targets:
        client = Client()
        client.force_login(user)
        response = client.get(url, params)
        assert response.status_code == 200, (label, response.status_code)
        with count_queries() as queries:
            client.get(url, params)
        stats = summary(measure(lambda c=client, u=url, p=params: c.get(u, p), repeat=args.repeat, warmup=2))
        rows.append({"request": label, "queries": queries.count, "p50 ms": f"{stats['p50_ms']:.1f}",
                     "p95 ms": f"{stats['p95_ms']:.1f}", "max ms": f"{stats['max_ms']:.1f}"})
        print(rows[-1], flush=True)
    body = (
        f"Dataset: {args.installations:,} installations, {Case.objects.count():,} cases "
        f"({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}). Django test client in-process, "
        f"{args.repeat} requests each after 2 warm-up requests; the admin index is the baseline.\n\n"
        + markdown_table(rows)
    )
    print(append_section("Admin changelist at scale (foundation)", body))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
