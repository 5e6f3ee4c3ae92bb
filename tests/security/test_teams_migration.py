"""The upgrade to teams: existing repositories go to the team "Default", existing active non-superusers become
its admins (nobody loses what they could do before), superusers and inactive users get no membership."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("findings", "0002_lean_finding_indexes"), ("teams", None)]
AFTER = [("findings", "0003_repository_team"), ("teams", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_migration_puts_everything_in_the_default_team():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        others = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in ("findings", "teams")]
        old = executor.loader.project_state([*others, BEFORE[0]]).apps
        User = old.get_model("auth", "User")
        old.get_model("findings", "Repository").objects.create(name="acme/old")
        User.objects.create(username="worker", is_active=True)
        User.objects.create(username="gone", is_active=False)
        User.objects.create(username="root", is_superuser=True)
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(AFTER)
        new = executor.loader.project_state([*others, *AFTER]).apps
        team = new.get_model("teams", "Team").objects.get(name="Default")
        assert new.get_model("findings", "Repository").objects.get(name="acme/old").team_id == team.pk
        memberships = new.get_model("teams", "Membership").objects.values_list("user__username", "role")
        assert list(memberships) == [("worker", "admin")]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
