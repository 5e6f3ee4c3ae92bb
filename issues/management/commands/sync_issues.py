from django.core.management.base import BaseCommand, CommandError

from findings import selectors as finding_selectors
from findings.models import Repository
from issues import services
from trackers.models import TrackerConfig


class Command(BaseCommand):
    help = "Refresh linked issues' status from the trackers and retry failed tracker work now."

    def add_arguments(self, parser):
        parser.add_argument("--repository", help="only this repository (name or id)")

    def handle(self, *args, **options):
        configs = TrackerConfig.objects.select_related("repository").order_by("repository__name")
        if options["repository"]:
            try:
                repository = finding_selectors.find_repository(options["repository"])
            except Repository.DoesNotExist:
                raise CommandError(f"no repository named {options['repository']!r}") from None
            configs = configs.filter(repository=repository)
        for config in configs:
            name = config.repository.name
            if config.sync_paused:
                self.stdout.write(f"{name}: paused: {config.sync_error}")
                continue
            retried = services.retry_failed(config.repository_id, force=True)
            result = services.sync_repository(config.repository_id)
            refreshed = services.refresh_repository(config.repository_id)
            line = f"{name}: retried {retried}, done {result.done}, failed {result.failed}, refreshed {refreshed}"
            if result.paused:
                line += " (paused: fix the tracker settings)"
            elif result.busy:
                line += " (busy: other syncs hold this tracker's concurrency slots and will do the work)"
            self.stdout.write(line)
            for error in result.errors[:5]:
                self.stdout.write(f"  {error}")
