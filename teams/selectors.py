"""Who may see and change what: every read of repositories (and of what hangs off them) is scoped here.

- A superuser sees and changes everything.
- Anyone else sees the repositories of the teams they are a member of, and acts on them as their role there
  allows (teams.models.Role); other repositories do not exist for them (404, never 403).
- An anonymous or inactive user sees nothing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from .models import ROLE_RANK, Membership, Role, Team, roles_at_least

VIEWER, EDITOR, ADMIN = Role.VIEWER, Role.EDITOR, Role.ADMIN


def _anonymous(user: Any) -> bool:
    return user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False)


def scope(queryset: QuerySet, user: Any, role: str = VIEWER, path: str = "team") -> QuerySet:
    """`queryset` narrowed to the rows whose team (reached through `path`, e.g. "repository__team") the user
    has at least `role` in. One SQL query either way: the membership test is a subquery."""
    if _anonymous(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    teams = Membership.objects.filter(user=user, role__in=roles_at_least(role)).values("team")
    return queryset.filter(**{f"{path}__in": teams})


def teams_for(user: Any, role: str = VIEWER) -> QuerySet[Team]:
    """The teams in which the user has at least `role` (every team for a superuser)."""
    return scope(Team.objects.all(), user, role, path="pk")


def repositories_for(user: Any, role: str = VIEWER) -> QuerySet:
    """The repositories the user has at least `role` on."""
    return scope(apps.get_model("findings", "Repository").objects.all(), user, role)


def role_of(user: Any, repository: Any) -> str | None:
    """The user's role on the repository (admin for a superuser), or None when it isn't theirs to see."""
    if _anonymous(user):
        return None
    if user.is_superuser:
        return ADMIN
    return (
        Membership.objects.filter(user=user, team_id=repository.team_id).values_list("role", flat=True).first()
    )


def has_role(user: Any, repository: Any, role: str) -> bool:
    held = role_of(user, repository)
    return held is not None and ROLE_RANK[held] >= ROLE_RANK[role]


def require_role(user: Any, repository: Any, role: str) -> None:
    """PermissionDenied (403) unless the user has at least `role` on a repository they can see."""
    if not has_role(user, repository, role):
        raise PermissionDenied(f"This needs the {role} role in the team {repository.team_id}.")


def permissions_of(user: Any, repository: Any) -> dict[str, bool]:
    """What the pages may offer the user on this repository (buttons, the webhook secret)."""
    held = role_of(user, repository)
    rank = ROLE_RANK[held] if held is not None else -1
    return {
        "role": held or "",
        "can_edit": rank >= ROLE_RANK[EDITOR],  # upload, retry, create issue
        "can_admin": rank >= ROLE_RANK[ADMIN],  # tracker settings, webhook secret, edit/delete
    }
