from django.core.management.base import BaseCommand, CommandError

from findings import selectors, services
from findings.models import Repository


class Command(BaseCommand):
    help = "Import a scan file (SARIF, Bandit JSON, Semgrep JSON) as a completed scan of REPOSITORY."

    def add_arguments(self, parser):
        parser.add_argument("repository", help="repository name or id")
        parser.add_argument("file", help="path of the scan file")
        parser.add_argument("--format", default="auto", choices=services.FORMATS)

    def handle(self, *args, **options):
        try:
            repository = selectors.find_repository(options["repository"])
        except Repository.DoesNotExist:
            raise CommandError(f"no repository named {options['repository']!r}: create it first") from None
        try:
            scan = services.import_scan(repository=repository, path=options["file"], format=options["format"])
        except services.ScanImportError as exc:
            raise CommandError(f"{options['file']}: {exc}") from None
        counts = scan.counts
        self.stdout.write(
            f"scan {scan.pk} of {repository.name} ({scan.tool or scan.format}): "
            f"new {counts['new']}, unchanged {counts['unchanged']}, reopened {counts['reappeared']}, "
            f"resolved {counts['resolved']}"
        )
