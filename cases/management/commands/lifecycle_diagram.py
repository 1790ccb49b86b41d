from django.core.management.base import BaseCommand

from cases.diagram import mermaid, transitions_table


class Command(BaseCommand):
    help = "Print the case lifecycle as a Mermaid stateDiagram-v2 and a Markdown table (for docs/ARCHITECTURE.md)."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        self.stdout.write("```mermaid\n" + mermaid() + "\n```\n\n" + transitions_table())
