"""Replace the per-scan Sighting rows (one per finding per scan: unbounded growth on big repositories scanned on
every push) by FindingChange rows, written only when a scan resolves or reopens a finding."""

import django.db.models.deletion
from django.db import migrations, models


def keep_last_changes(apps, schema_editor):
    """The latest resolve and reopen of each finding are on the finding: keep them as its history."""
    Finding = apps.get_model("findings", "Finding")
    FindingChange = apps.get_model("findings", "FindingChange")
    for kind, field in (("reappeared", "reappeared_scan"), ("resolved", "resolved_scan")):
        rows = Finding.objects.filter(**{f"{field}__isnull": False}).values_list("id", f"{field}_id")
        FindingChange.objects.bulk_create(
            (FindingChange(finding_id=pk, scan_id=scan_id, kind=kind) for pk, scan_id in rows.iterator()),
            batch_size=1000, ignore_conflicts=True,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('findings', '0004_drop_global_severity_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='FindingChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('resolved', 'Resolved'), ('reappeared', 'Reappeared')], max_length=10)),
                ('finding', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='findings.finding')),
                ('scan', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='findings.scan')),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.AddConstraint(
            model_name='findingchange',
            constraint=models.UniqueConstraint(fields=('finding', 'scan'), name='finding_change_once'),
        ),
        migrations.RunPython(keep_last_changes, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='finding',
            name='scans',
        ),
        migrations.DeleteModel(
            name='Sighting',
        ),
    ]
