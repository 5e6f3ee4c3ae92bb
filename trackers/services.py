"""Writes and tracker calls for tracker configurations."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction

from findings.models import Repository

from . import redaction
from .adapters import ConnectionResult, TrackerSettings, get_adapter
from .crypto import SecretError, decrypt, encrypt, rotate
from .models import DEFAULT_URLS, FIELDS_BY_TYPE, TrackerChange, TrackerConfig

logger = logging.getLogger(__name__)

# API/form field name -> model field name, where they differ.
MODEL_FIELD = {"repository": "repo_path"}
COMMON_FIELDS = ("min_severity", "labels", "auto_close", "reopen_policy")


AUDITED_FIELDS = ("type", "repo_path", "project_id", "project_key", "instance_url", "api_url", "email", "issue_type",
                  "min_severity", "labels", "auto_close", "reopen_policy")


@transaction.atomic
def save_tracker(repository: Repository, data: dict[str, Any], actor: Any = None) -> TrackerConfig:
    """Create or update `repository`'s tracker from validated API/form data, and record who changed what.

    A blank or missing token keeps the saved one (the token is write-only). Fields of other tracker
    types are cleared so a type change leaves nothing stale behind. Saving un-pauses a paused sync.
    """
    config = TrackerConfig.objects.select_for_update().filter(repository=repository).first()
    created = config is None
    config = config or TrackerConfig(repository=repository)
    before = {name: getattr(config, name) for name in AUDITED_FIELDS}
    token_before = config.token_encrypted
    tracker_type = data["type"]
    changed_type = config.pk is not None and config.type != tracker_type
    config.type = tracker_type
    for name in ("repository", "project_id", "project_key", "instance_url", "api_url", "email", "issue_type"):
        value = data.get(name, "") if name in FIELDS_BY_TYPE[tracker_type] else ""
        setattr(config, MODEL_FIELD.get(name, name), (value or "").strip())
    if tracker_type in DEFAULT_URLS:
        field, default = DEFAULT_URLS[tracker_type]
        setattr(config, field, getattr(config, field) or default)
    if tracker_type == "jira":
        config.issue_type = config.issue_type or "Bug"
    for name in COMMON_FIELDS:
        if name in data:
            setattr(config, name, data[name])
    token = (data.get("token") or "").strip()
    if token:
        config.token_encrypted = encrypt(token)
    elif changed_type:
        config.token_encrypted = ""  # a token for another tracker is of no use here
    if not config.webhook_secret_encrypted:
        config.webhook_secret_encrypted = encrypt(secrets.token_urlsafe(32))
    config.sync_paused, config.sync_error = False, ""
    config.save()
    changes = {name: [before[name], getattr(config, name)] for name in AUDITED_FIELDS
               if created or before[name] != getattr(config, name)}
    if config.token_encrypted != token_before:
        changes["token"] = ["(saved)" if token_before else "", "(changed)" if config.token_encrypted else ""]
    if created or changes:
        TrackerChange.objects.create(repository=repository, actor=_user(actor), changes=changes,
                                     action=TrackerChange.Action.CREATED if created else TrackerChange.Action.UPDATED)
    return config


def _user(actor: Any):
    return actor if getattr(actor, "is_authenticated", False) else None


def webhook_secret(config: TrackerConfig) -> str:
    return decrypt(config.webhook_secret_encrypted)


def webhook_path(config: TrackerConfig) -> str:
    return f"/api/v1/webhooks/{config.type}/{config.repository_id}/"


WEBHOOK_HOWTO = {
    "github": "Repository settings → Webhooks → Add webhook: content type application/json, this secret, "
              "event \"Issues\".",
    "gitlab": "Project settings → Webhooks: this URL, this secret as the Secret token, trigger \"Issues events\".",
    "gitea": "Repository settings → Webhooks → Add webhook (Gitea): POST, application/json, this secret, "
             "event \"Issues\".",
    "jira": "Jira administration → System → WebHooks → Create: this URL, this secret, events \"Issue updated\".",
}


def webhook_settings(config: TrackerConfig) -> dict[str, str] | None:
    """What a person pastes into the tracker's webhook form, or None before the tracker was saved with a secret."""
    if not config.webhook_secret_encrypted:
        return None
    try:
        secret = webhook_secret(config)
    except SecretError:
        return None
    return {"url": settings.BASE_URL + webhook_path(config), "secret": secret, "howto": WEBHOOK_HOWTO[config.type]}


@transaction.atomic
def delete_tracker(repository: Repository, actor: Any = None) -> None:
    deleted, _ = TrackerConfig.objects.filter(repository=repository).delete()
    if deleted:
        TrackerChange.objects.create(repository=repository, actor=_user(actor), action=TrackerChange.Action.DELETED)


def tracker_settings(config: TrackerConfig) -> TrackerSettings:
    """The plain values an adapter takes. Raises SecretError when the token can't be decrypted."""
    token = decrypt(config.token_encrypted)
    redaction.remember(token)  # from now on the logs never show it, whatever text it turns up in
    return TrackerSettings(
        type=config.type,
        token=token,
        repository=config.repo_path,
        project_id=config.project_id,
        project_key=config.project_key,
        instance_url=config.instance_url.rstrip("/"),
        api_url=config.api_url.rstrip("/"),
        email=config.email,
        issue_type=config.issue_type or "Bug",
        labels=tuple(config.labels or ()),
        allowed_hosts=tuple(getattr(settings, "TRACKER_ALLOWED_HOSTS", None) or ()),
    )


def test_connection(config: TrackerConfig) -> ConnectionResult:
    if not config.has_token:
        return ConnectionResult(False, "No token is saved for this tracker: enter one and save.")
    try:
        adapter = get_adapter(tracker_settings(config))
    except SecretError as exc:
        return ConnectionResult(False, str(exc))
    result = adapter.test_connection()
    logger.info("tracker test for repository %s (%s): %s", config.repository_id, config.type, result.ok)
    return result


# --- key rotation -----------------------------------------------------------------------------------------

SECRET_FIELDS = {"token_encrypted": "tracker token", "webhook_secret_encrypted": "webhook secret"}


@transaction.atomic
def rotate_secrets() -> int:
    """Re-encrypt every stored tracker secret under the newest CERTIFAI_ENCRYPTION_KEY; return how many.

    All or nothing: the rows are locked and rewritten in one transaction, and a secret that no configured key
    can decrypt raises SecretError naming its repository before anything is written."""
    configs = list(TrackerConfig.objects.select_for_update(of=("self",)).select_related("repository").order_by("pk"))
    updates: list[tuple[TrackerConfig, dict[str, str]]] = []
    for config in configs:
        changes = {}
        for field, what in SECRET_FIELDS.items():
            ciphertext = getattr(config, field)
            if not ciphertext:
                continue
            try:
                changes[field] = rotate(ciphertext)
            except InvalidToken:
                raise SecretError(
                    f"the {what} of repository {config.repository.name} (id {config.repository_id}) can't be "
                    "decrypted with any key in CERTIFAI_ENCRYPTION_KEY: add the key it was encrypted with to the "
                    "list (after the new one) and rotate again."
                ) from None
        if changes:
            updates.append((config, changes))
    count = 0
    for config, changes in updates:
        TrackerConfig.objects.filter(pk=config.pk).update(**changes)
        count += len(changes)
    logger.info("re-encrypted %s tracker secrets under the newest key", count)
    return count
