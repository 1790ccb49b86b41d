"""Drop the single-column indexes of foreign keys that already lead a composite index.

Each of these columns is the first column of another index (case_installation_idx,
case_supplier_state_idx, case_check_state_idx, case_assignee_idx, event_case_time_idx,
checklist_case_order_unique, sla_clock_case_party_kind_unique, sla_interval_clock_idx), which serves
the same lookups and foreign-key checks; the extra index only cost time on every insert and update
(exception ingestion writes cases, events, checklist items and clocks by the thousand).

Only the indexes are dropped (DROP INDEX IF EXISTS): Django's own AlterField would also drop and
re-add each foreign-key constraint, re-validating millions of rows under an exclusive lock.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_dashboard_rollups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="case",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="assigned_cases",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="case",
                    name="check_type",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cases",
                        to="cases.check",
                        verbose_name="check",
                    ),
                ),
                migrations.AlterField(
                    model_name="case",
                    name="installation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cases",
                        to="cases.installation",
                    ),
                ),
                migrations.AlterField(
                    model_name="case",
                    name="supplier",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="supplier_cases",
                        to="cases.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="caseevent",
                    name="case",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="cases.case",
                    ),
                ),
                migrations.AlterField(
                    model_name="checklistitem",
                    name="case",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="checklist",
                        to="cases.case",
                    ),
                ),
                migrations.AlterField(
                    model_name="slaclock",
                    name="case",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sla_clocks",
                        to="cases.case",
                    ),
                ),
                migrations.AlterField(
                    model_name="slainterval",
                    name="clock",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="intervals",
                        to="cases.slaclock",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_case_assignee_id_28343c2e"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_case_assignee_id_28343c2e" ON "cases_case" ("assignee_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_case_check_type_id_31f173fe"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_case_check_type_id_31f173fe" ON "cases_case" ("check_type_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_case_installation_id_f410b11e"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_case_installation_id_f410b11e" ON "cases_case" ("installation_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_case_supplier_id_c1f09b91"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_case_supplier_id_c1f09b91" ON "cases_case" ("supplier_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_caseevent_case_id_6c6031ac"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_caseevent_case_id_6c6031ac" ON "cases_caseevent" ("case_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_checklistitem_case_id_e105fcd7"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_checklistitem_case_id_e105fcd7" ON "cases_checklistitem" ("case_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_slaclock_case_id_fbe4b67d"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_slaclock_case_id_fbe4b67d" ON "cases_slaclock" ("case_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "cases_slainterval_clock_id_74c066f3"',
                    reverse_sql='CREATE INDEX IF NOT EXISTS "cases_slainterval_clock_id_74c066f3" ON "cases_slainterval" ("clock_id")',
                ),
            ],
        ),
    ]
