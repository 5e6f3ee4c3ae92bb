import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Make sure an administrator account exists and say how to log in (used by `make run`)."

    def handle(self, *args, **options):
        User = get_user_model()
        password_file = settings.LOCAL_DIR / "admin-password"
        url = settings.BASE_URL + "/"
        if not User.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            settings.LOCAL_DIR.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        if password_file.exists():
            password = password_file.read_text().strip()
            self.stdout.write(f"Log in at {url} as admin with password {password} (kept in {password_file}).")
        else:
            self.stdout.write(
                f"Log in at {url} with your administrator account "
                "(forgot the password? python manage.py changepassword USERNAME)."
            )
