"""Case.cohort / Case.installation_type copied from the installation (backfilled here), and indexes
that match the list read paths (visibility + ordering, ending in id for keyset pages).

The backfill rewrites every case row once (several minutes per million cases on a small, busy
machine). It runs *after* the new indexes are built, although that makes it maintain them: an index
built in the same transaction as (or, until VACUUM, after) a rewrite of the table's rows is marked
``indcheckxmin`` and the planner ignores it while any transaction older than the migration is still
open anywhere on the server — seen with a long dataset load in another database (the pages took
seconds until a REINDEX). Run ``VACUUM ANALYZE cases_case`` after migrating a big table.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE cases_case c SET cohort = i.cohort, installation_type = i.installation_type "
                "FROM cases_installation i WHERE i.id = c.installation_id"
            )
        else:
            cursor.execute(
                "UPDATE cases_case SET "
                "cohort = (SELECT i.cohort FROM cases_installation i WHERE i.id = cases_case.installation_id), "
                "installation_type = (SELECT i.installation_type FROM cases_installation i "
                "WHERE i.id = cases_case.installation_id)"
            )


def assignee_state_statistics(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Unassigned cases are nearly all RAISED: without the joint distribution the planner takes
    # "unassigned and open" for a tenth of what it is, fetches all of them through the assignee index
    # and sorts (0.7 s at a million cases), instead of walking the open index in order (ms).
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "CREATE STATISTICS IF NOT EXISTS case_assignee_state_stats (mcv) ON assignee_id, state FROM cases_case"
            )


def drop_assignee_state_statistics(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP STATISTICS IF EXISTS case_assignee_state_stats")


def analyse(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Fresh statistics for the new columns, so the planner picks the new indexes straight away.
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("ANALYZE cases_case")


class Migration(migrations.Migration):
    # The single-column foreign-key indexes this change makes redundant are dropped by
    # 0010_drop_redundant_fk_indexes (DROP INDEX only; an AlterField would re-validate the constraints).

    dependencies = [
        ('cases', '0007_api_tokens'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='case',
            name='case_supplier_state_idx',
        ),
        migrations.RemoveIndex(
            model_name='case',
            name='case_state_updated_idx',
        ),
        migrations.AddField(
            model_name='case',
            name='cohort',
            field=models.CharField(blank=True, choices=[('IOC', 'IOC'), ('MOC_MDS', 'MOC (MDS)'), ('MOC_SECURE', 'MOC (Secure)'), ('FOC', 'FOC')], default='', max_length=12),
        ),
        migrations.AddField(
            model_name='case',
            name='installation_type',
            field=models.CharField(blank=True, choices=[('ACTIVE', 'Active'), ('DORMANT', 'Dormant'), ('MIXED', 'Mixed')], default='', max_length=8),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['supplier', '-updated_at', '-id'], name='case_supplier_updated_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['supplier', 'state', '-updated_at', '-id'], name='case_supplier_state_upd_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['supplier', 'priority', 'id'], name='case_supplier_priority_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['state', '-updated_at', '-id'], name='case_state_upd_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['priority', 'id'], name='case_priority_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('state__in', ('RAISED', 'TRIAGED', 'AWAITING_DCC', 'AWAITING_USER', 'AWAITING_SMSO', 'RETRY_SCHEDULED', 'RETRYING', 'ESCALATED', 'EXCLUSION_PROPOSED'))), fields=['-updated_at', '-id'], name='case_open_updated_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('state__in', ('RAISED', 'TRIAGED', 'AWAITING_DCC', 'AWAITING_USER', 'AWAITING_SMSO', 'RETRY_SCHEDULED', 'RETRYING', 'ESCALATED', 'EXCLUSION_PROPOSED'))), fields=['priority', 'id'], name='case_open_priority_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('state__in', ('RAISED', 'TRIAGED', 'AWAITING_DCC', 'AWAITING_USER', 'AWAITING_SMSO', 'RETRY_SCHEDULED', 'RETRYING', 'ESCALATED', 'EXCLUSION_PROPOSED'))), fields=['supplier', '-updated_at', '-id'], name='case_open_supplier_upd_idx'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('state__in', ('RAISED', 'TRIAGED', 'AWAITING_DCC', 'AWAITING_USER', 'AWAITING_SMSO', 'RETRY_SCHEDULED', 'RETRYING', 'ESCALATED', 'EXCLUSION_PROPOSED'))), fields=['supplier', 'priority', 'id'], name='case_open_supplier_prio_idx'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(assignee_state_statistics, drop_assignee_state_statistics),
        migrations.RunPython(analyse, migrations.RunPython.noop, elidable=True),
    ]
