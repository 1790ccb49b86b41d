"""Installation.migrated_at: when an installation first migrated (fully or electricity only), for the
daily report's "installations migrated" (which counted `updated_at`, a column every edit moves).

Existing rows are back-filled from the first successful (or partial) migration window of the retry
engine; a migrated installation without such a window (loaded or migrated before the engine) takes
its `updated_at`, the best time known. The partial index is built after the back-fill."""

from __future__ import annotations

from django.db import migrations, models

MIGRATED = ("MIGRATED", "PARTIALLY_MIGRATED")


def backfill(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    Installation = apps.get_model("cases", "Installation")
    MigrationAttempt = apps.get_model("retries", "MigrationAttempt")
    ia, ma = Installation._meta.db_table, MigrationAttempt._meta.db_table
    with schema_editor.connection.cursor() as cur:
        if schema_editor.connection.vendor == "postgresql":
            # One pass over the attempts, one over the installations (no per-row sub-query).
            cur.execute(
                f"""
                UPDATE {ia} AS i SET migrated_at = w.first_at
                FROM (SELECT installation_id, min(finished_at) AS first_at FROM {ma}
                      WHERE kind = 'MIGRATION' AND outcome IN ('SUCCEEDED', 'PARTIAL') AND finished_at IS NOT NULL
                      GROUP BY installation_id) AS w
                WHERE i.id = w.installation_id AND i.migration_status IN (%s, %s)
                """,
                list(MIGRATED),
            )
        else:
            cur.execute(
                f"""
                UPDATE {ia} SET migrated_at = (
                    SELECT min(finished_at) FROM {ma} WHERE {ma}.installation_id = {ia}.id AND kind = 'MIGRATION'
                    AND outcome IN ('SUCCEEDED', 'PARTIAL') AND finished_at IS NOT NULL)
                WHERE migration_status IN (%s, %s)
                """,
                list(MIGRATED),
            )
        cur.execute(
            f"UPDATE {ia} SET migrated_at = updated_at WHERE migrated_at IS NULL AND migration_status IN (%s, %s)",
            list(MIGRATED),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0010_drop_redundant_fk_indexes"),
        # The back-fill reads the retry engine's migration windows.
        ("retries", "0002_default_policies"),
    ]

    operations = [
        migrations.AddField(
            model_name="installation",
            name="migrated_at",
            field=models.DateTimeField(blank=True, help_text="When it first migrated (fully or partly).", null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="installation",
            index=models.Index(
                condition=models.Q(("migrated_at__isnull", False)), fields=["migrated_at"],
                name="installation_migrated_at_idx",
            ),
        ),
    ]
