"""Tracker tokens at rest: MultiFernet over CERTIFAI_ENCRYPTION_KEY (newest key first, so keys rotate)."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretError(Exception):
    """A stored secret can't be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError:
        raise SecretError(
            "CERTIFAI_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each)"
        ) from None


def _current() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretError(
            "a stored tracker token can't be decrypted with CERTIFAI_ENCRYPTION_KEY: "
            "was the key replaced instead of rotated (new key first, old keys after)?"
        ) from None


def rotate(ciphertext: str) -> str:
    """The same secret encrypted under the newest key."""
    return _current().rotate(ciphertext.encode()).decode() if ciphertext else ""
