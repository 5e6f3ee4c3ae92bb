"""`manage.py rotate_encryption_key`: every stored secret re-encrypted under the newest key, all or nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from findings.models import Repository
from trackers import services
from trackers.crypto import SecretError, decrypt
from trackers.models import TrackerConfig

pytestmark = pytest.mark.django_db

OLD, NEW, STRAY = (Fernet.generate_key().decode() for _ in range(3))


def make_trackers() -> dict[int, tuple[str, str]]:
    """Three trackers: two with a token and a webhook secret, one whose token was dropped (type change)."""
    plain = {}
    for n, (kind, extra) in enumerate([("github", {"repository": "acme/a"}), ("gitea", {"repository": "acme/b",
                                       "instance_url": "https://gitea.example"})]):
        repo = Repository.objects.create(name=f"acme/r{n}")
        config = services.save_tracker(repo, {"type": kind, "token": f"token-{n}-secret", **extra})
        plain[config.pk] = (f"token-{n}-secret", services.webhook_secret(config))
    repo = Repository.objects.create(name="acme/no-token")
    services.save_tracker(repo, {"type": "github", "repository": "acme/c", "token": "dropped"})
    config = services.save_tracker(repo, {"type": "jira", "project_key": "SEC", "instance_url": "https://j.example"})
    assert config.token_encrypted == ""
    plain[config.pk] = ("", services.webhook_secret(config))
    return plain


def ciphertexts() -> dict[int, tuple[str, str]]:
    return {c.pk: (c.token_encrypted, c.webhook_secret_encrypted) for c in TrackerConfig.objects.all()}


def test_rotation_re_encrypts_everything_under_the_newest_key(settings):
    settings.ENCRYPTION_KEYS = [OLD]
    plain = make_trackers()
    before = ciphertexts()

    settings.ENCRYPTION_KEYS = [NEW, OLD]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert out.getvalue().strip() == "Re-encrypted 5 secrets under the newest key."

    settings.ENCRYPTION_KEYS = [NEW]  # the old key is gone: everything still decrypts
    after = ciphertexts()
    for config in TrackerConfig.objects.all():
        token, secret = plain[config.pk]
        assert decrypt(config.token_encrypted) == token and decrypt(config.webhook_secret_encrypted) == secret
        assert all(new != old for new, old in zip(after[config.pk], before[config.pk], strict=True) if old)
    with pytest.raises(SecretError):  # and the old key alone no longer does
        settings.ENCRYPTION_KEYS = [OLD]
        decrypt(TrackerConfig.objects.exclude(token_encrypted="").first().token_encrypted)


def test_a_secret_under_an_unknown_key_fails_naming_its_repository_and_changes_nothing(settings):
    settings.ENCRYPTION_KEYS = [OLD]
    make_trackers()
    settings.ENCRYPTION_KEYS = [STRAY]
    stray_repo = Repository.objects.create(name="acme/zz-stray")  # the last one rotated: the others come first
    services.save_tracker(stray_repo, {"type": "github", "repository": "acme/z", "token": "under-a-lost-key"})
    before = ciphertexts()

    settings.ENCRYPTION_KEYS = [NEW, OLD]
    with pytest.raises(CommandError) as caught:
        call_command("rotate_encryption_key", stdout=StringIO())
    message = str(caught.value)
    assert message.startswith("Nothing was rotated: the tracker token of repository acme/zz-stray")
    assert f"(id {stray_repo.pk})" in message and "CERTIFAI_ENCRYPTION_KEY" in message
    assert "under-a-lost-key" not in message
    assert ciphertexts() == before


def test_rotation_with_nothing_stored(settings):
    settings.ENCRYPTION_KEYS = [NEW, OLD]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 0 secrets" in out.getvalue()
