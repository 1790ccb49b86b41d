from django.core.management.base import BaseCommand

from cases.demo import DEFAULT_INSTALLATIONS, DEMO_ACCOUNTS, seed_demo


class Command(BaseCommand):
    help = (
        "Create the demo organisations, accounts (see cases/demo.py DEMO_ACCOUNTS), installations and cases "
        "through the services. Idempotent: a second run creates nothing. Loads the catalogue first if empty."
    )

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--installations", type=int, default=DEFAULT_INSTALLATIONS)

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        counts = seed_demo(installations=options["installations"], stdout=self.stdout)
        summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("organisations", "accounts", "installations", "devices", "cases"))
        self.stdout.write(self.style.SUCCESS(f"Demo data: created {summary}."))
        if counts.get("accounts"):
            self.stdout.write("Demo accounts: " + ", ".join(f"{u}/{p}" for u, p, _r, _o in DEMO_ACCOUNTS))
