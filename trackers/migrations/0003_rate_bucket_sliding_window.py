from django.db import migrations, models


def reset(apps, schema_editor):
    # The old state (GCRA arrival times) means nothing to the sliding window: start counting afresh.
    apps.get_model("trackers", "RateBucket").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("trackers", "0002_webhook_secret")]

    operations = [
        migrations.RemoveField(model_name="ratebucket", name="tat"),
        migrations.AddField(model_name="ratebucket", name="calls", field=models.JSONField(default=dict)),
        migrations.RunPython(reset, migrations.RunPython.noop),
    ]
