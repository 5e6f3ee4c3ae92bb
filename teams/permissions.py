"""Django REST framework permission classes for team-owned objects.

Viewsets scope get_queryset with teams.selectors (another team's object is a 404 before any permission is
checked); these classes then check the role a write needs on an object the user can see (403).
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from . import selectors
from .models import Role


def required_role(request, view) -> str:
    """The role the view's current action needs: `view.action_roles[action]`, else viewer for reads and
    admin for any other write (fail closed)."""
    roles = getattr(view, "action_roles", {})
    action = getattr(view, "action", None)
    if action in roles:
        return roles[action]
    return Role.VIEWER if request.method in SAFE_METHODS else Role.ADMIN


def repository_of(obj):
    """The repository an object belongs to (a Repository is its own)."""
    return getattr(obj, "repository", obj)


class TeamRole(BasePermission):
    """Object level: the user's role on the object's repository reaches what the action needs.
    Creating (a repository) needs the admin role in at least one team."""

    message = "Your role in this repository's team does not allow this."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if getattr(view, "action", None) == "create":
            return selectors.teams_for(request.user, Role.ADMIN).exists()
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        return selectors.has_role(request.user, repository_of(obj), required_role(request, view))
