"""Re-encrypt every stored tracker secret under the newest key of CERTIFAI_ENCRYPTION_KEY.

Rotation: put the new key first and keep the old ones after it (CERTIFAI_ENCRYPTION_KEY=new,old), restart, run
this command, then drop the old keys.
"""

from django.core.management.base import BaseCommand, CommandError

from trackers.crypto import SecretError
from trackers.services import rotate_secrets


class Command(BaseCommand):
    help = ("Re-encrypt every stored tracker token and webhook secret under the newest (first) key of "
            "CERTIFAI_ENCRYPTION_KEY, in one transaction.")

    def handle(self, *args, **options):
        try:
            count = rotate_secrets()
        except SecretError as exc:
            raise CommandError(f"Nothing was rotated: {exc}") from None
        self.stdout.write(f"Re-encrypted {count} secret{'' if count == 1 else 's'} under the newest key.")
