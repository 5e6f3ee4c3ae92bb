"""Indexes for the issues list at 100,000 issues.

- "Newest first" orders by `created DESC NULLS LAST, id DESC` (issues not filed yet last); the old index
  (created DESC, id DESC) sorts NULLs first, so PostgreSQL could not use it and sorted every issue of the team.
- The search (words in the issue title: `UPPER(title) LIKE UPPER('%word%')`, Django's `icontains`) reads every
  issue without an index; on PostgreSQL a trigram GIN index (pg_trgm) on that expression answers it. Only on PostgreSQL, and only where the extension can be created (it is
  a trusted extension since PostgreSQL 13: the database owner may create it); elsewhere the search still works,
  by reading the table.
"""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)

CREATED_INDEX = "issue_created_nulls_last"
UNTITLED_INDEX = "issue_untitled"
TRIGRAM_INDEX = "issue_title_trgm"


def add_created_index(apps, schema_editor):
    # PostgreSQL sorts NULLs first in a descending index unless told; SQLite sorts them last already and can't be
    # told (no NULLS LAST in CREATE INDEX).
    nulls_last = " NULLS LAST" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"CREATE INDEX {CREATED_INDEX} ON issues_trackerissue (created DESC{nulls_last}, id DESC)")
    # The search looks for the words in the finding's title for issues not filed yet (no title): those few only.
    schema_editor.execute(f"CREATE INDEX {UNTITLED_INDEX} ON issues_trackerissue (finding_id) WHERE title = ''")


def drop_created_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX {CREATED_INDEX}")
    schema_editor.execute(f"DROP INDEX {UNTITLED_INDEX}")


def add_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            try:
                with schema_editor.connection.cursor() as inner, _savepoint(schema_editor):
                    inner.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception as exc:  # noqa: BLE001 - no privilege: the search works without the index
                logger.warning("pg_trgm not available (%s): the issue search will read the table", exc)
                return
        # On the expression Django's `icontains` compares on PostgreSQL: UPPER(title) LIKE UPPER('%word%').
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON issues_trackerissue "
                       "USING gin ((upper(title::text)) gin_trgm_ops)")


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


def _savepoint(schema_editor):
    from django.db import transaction

    return transaction.atomic(using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ("issues", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="trackerissue", name="issue_created"),
        migrations.RunPython(add_created_index, drop_created_index),
        migrations.RunPython(add_trigram_index, drop_trigram_index),
    ]
