"""Issues not filed yet carry the title they will be filed under (issues.services.planned_title_sql), so the
Issues search is one indexed condition on the title. Rows claimed before get theirs here; the partial index that
the search used to find untitled rows is dropped."""

from django.db import migrations

from issues.services import planned_title_sql

UNTITLED_INDEX = "issue_untitled"


def plan_titles(apps, schema_editor):
    # A correlated subquery rather than UPDATE ... FROM, which older SQLite versions lack.
    schema_editor.execute(
        f"UPDATE issues_trackerissue SET title = (SELECT {planned_title_sql('f')} FROM findings_finding f "  # noqa: S608  # nosec B608
        "WHERE f.id = issues_trackerissue.finding_id) WHERE title = '' AND finding_id IS NOT NULL"
    )
    schema_editor.execute(f"DROP INDEX IF EXISTS {UNTITLED_INDEX}")


def restore_untitled_index(apps, schema_editor):
    # The planned titles stay: an issue filed later gets the tracker's own anyway.
    schema_editor.execute(f"CREATE INDEX {UNTITLED_INDEX} ON issues_trackerissue (finding_id) WHERE title = ''")


class Migration(migrations.Migration):

    dependencies = [
        # The finding columns it reads are there since findings 0001 (issues 0001 depends on it).
        ("issues", "0002_issue_list_indexes"),
    ]

    operations = [
        migrations.RunPython(plan_titles, restore_untitled_index),
    ]
