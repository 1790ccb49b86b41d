from django.core.management.base import BaseCommand

from cases.services.catalogue import catalogue_load


class Command(BaseCommand):
    help = "Load (or update) the MEHR check catalogue shipped in cases/catalogue/data.py. Idempotent."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        from cases.catalogue.data import CHECKS, MEHR_VERSIONS

        counts = catalogue_load(versions=MEHR_VERSIONS, checks=CHECKS)
        self.stdout.write(
            self.style.SUCCESS(
                "Catalogue loaded: {versions_created} versions created, {checks_created} checks created, "
                "{checks_updated} checks updated.".format(**counts)
            )
        )
