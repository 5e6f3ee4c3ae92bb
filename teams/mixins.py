"""Web views: the same rules as the API (teams.selectors), for class-based views."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin

from . import selectors


class TeamAccessMixin(LoginRequiredMixin):
    """Log-in required; `self.require(repository, role)` answers 403 when the user's role on a repository they
    can see is short of `role`. Reads go through selectors that take `self.request.user` (another team's
    object is a 404 there)."""

    def require(self, repository, role: str) -> None:
        selectors.require_role(self.request.user, repository, role)
