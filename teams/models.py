"""Teams own repositories; a user's membership of a team gives one role on all of its repositories.

This app is at the bottom of the dependency graph: findings (and through it trackers and issues) import it,
it imports none of them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"  # reads everything of the team's repositories
    EDITOR = "editor", "Editor"  # also uploads scans, retries issues, creates an issue for a finding
    ADMIN = "admin", "Admin"  # also tracker settings and tokens, the webhook secret, create/edit/delete repositories


# Each role includes the ones ranked below it.
ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}

DEFAULT_TEAM = "Default"


def roles_at_least(role: str) -> list[str]:
    return [r for r, rank in ROLE_RANK.items() if rank >= ROLE_RANK[role]]


class Team(models.Model):
    name = models.CharField(max_length=200, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["team", "user"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique")]
        indexes = [models.Index(fields=["user", "role"], name="membership_user_role")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


def default_team_id() -> int:
    """The team a repository created without one (command line, scripts) belongs to: "Default"."""
    return Team.objects.get_or_create(name=DEFAULT_TEAM)[0].pk
