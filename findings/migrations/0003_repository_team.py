"""Teams own repositories. The team "Default" is created (also on a fresh install: the superuser's first
repository goes there); existing repositories go to it; existing active non-superusers become its admins, so
that nobody loses what they could do before the upgrade (narrow it down in /admin/)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import teams.models


def assign_default_team(apps, schema_editor):
    Team = apps.get_model("teams", "Team")
    Membership = apps.get_model("teams", "Membership")
    Repository = apps.get_model("findings", "Repository")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    users = User.objects.filter(is_superuser=False, is_active=True)
    team, _ = Team.objects.get_or_create(name=teams.models.DEFAULT_TEAM)
    Repository.objects.filter(team__isnull=True).update(team=team)
    Membership.objects.bulk_create(
        [Membership(team=team, user=user, role="admin") for user in users], ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("findings", "0002_lean_finding_indexes"),
        ("teams", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="repository",
            name="team",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="repositories", to="teams.team"),
        ),
        migrations.RunPython(assign_default_team, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="repository",
            name="team",
            field=models.ForeignKey(default=teams.models.default_team_id,
                                    on_delete=django.db.models.deletion.PROTECT, related_name="repositories",
                                    to="teams.team"),
        ),
    ]
