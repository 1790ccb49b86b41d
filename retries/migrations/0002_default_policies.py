"""The default active and dormant retry policies (MEHR.md §5 and §6 numbers, editable in the admin)."""

from django.db import migrations


def forwards(apps, schema_editor):
    RetryPolicy = apps.get_model("retries", "RetryPolicy")
    RetryPolicy.objects.get_or_create(name="Default (active)", defaults={"notes": "MEHR.md §5 defaults."})
    RetryPolicy.objects.get_or_create(
        name="Default (dormant)",
        defaults={
            "installation_type": "DORMANT",
            "firmware_upgrade_first": True,
            "notes": "MEHR.md §6: DCC drives dormant schedules: firmware upgrade first, then migration.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("retries", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
