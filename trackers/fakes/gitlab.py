"""A fake GitLab that speaks the documented REST API v4, for python-gitlab to talk to unchanged.

Written from GitLab's documentation, not from what Certifai sends:

- REST basics, authentication, `id` or URL-encoded path, offset pagination and its headers
  (https://docs.gitlab.com/api/rest/, https://docs.gitlab.com/api/rest/authentication/).
- Issues: list/get/create/edit with `state_event`, `labels`, `add_labels`, `remove_labels`; list filters `iids[]`,
  `state`, `labels`, `search` + `in`, `created_after`/`_before`, `updated_after`/`_before`, `order_by`, `sort`
  (https://docs.gitlab.com/api/issues/). Notes: https://docs.gitlab.com/api/notes/.
- Projects: `GET /projects/:id` with `permissions.project_access` / `group_access`, `issues_enabled`,
  `issues_access_level` (https://docs.gitlab.com/api/projects/). Access levels 10 Guest, 15 Planner, 20 Reporter,
  30 Developer, 40 Maintainer, 50 Owner (https://docs.gitlab.com/api/members/).
- Roles: Guests may create issues (and set labels while creating them), and close/reopen only issues they
  authored; Planner and Reporter and up manage every issue and its labels (https://docs.gitlab.com/user/permissions/).
- Token scopes: `api` for writes, `read_api` reads only; 403 `insufficient_scope` otherwise
  (https://docs.gitlab.com/user/profile/personal_access_tokens/); `GET /personal_access_tokens/self`
  (https://docs.gitlab.com/api/personal_access_tokens/).
- Rate limits: per-minute fixed windows for authenticated API traffic (per user), issue creation (per project and
  user) and note creation (per user); `RateLimit-Name/-Limit/-Observed/-Remaining/-Reset/-ResetTime` headers and,
  on 429, `Retry-After` (https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/,
  https://docs.gitlab.com/administration/settings/rate_limit_on_issues_creation/,
  https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom). The 429 body is Rack::Attack's "Retry later".

Search is modelled as an index that lags behind writes (`search_lag` seconds, like an Elasticsearch-backed
instance), so callers can't rely on finding an issue they have just created through `search=`; the other list
filters are consistent.

Set-up from tests::

    server = FakeGitLab()
    server.add_user("certifai-bot", token="glpat-secret")            # scopes ("api",)
    project = server.add_project("acme/webapp", members={"certifai-bot": REPORTER})
    server.add_issue(project, "Seeded", description="...", labels=["certifai"])
    server.search_lag = 600; server.limits["issues_create"] = 2; server.clock = lambda: 1_700_000_000.0
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from .base import FakeServer, Request, Response

NO_ACCESS, MINIMAL, GUEST, PLANNER, REPORTER, DEVELOPER, MAINTAINER, OWNER = 0, 5, 10, 15, 20, 30, 40, 50
ROLE_NAMES = {0: "No access", 5: "Minimal access", 10: "Guest", 15: "Planner", 20: "Reporter", 30: "Developer",
              40: "Maintainer", 50: "Owner"}

API = "/api/v4"
PROJECT = r"/projects/(?P<project>[^/]+)"
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
COUNT_LIMIT = 10_000  # above this GitLab leaves out x-total, x-total-pages and rel="last"

UNAUTHORIZED = {"message": "401 Unauthorized"}
FORBIDDEN = {"message": "403 Forbidden"}
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the access token.",
    "scope": "api",
}


@dataclass
class FakeUser:
    id: int
    username: str
    name: str
    is_admin: bool = False


@dataclass
class FakeToken:
    id: int
    token: str = field(repr=False)
    user_id: int
    name: str
    scopes: tuple[str, ...]
    revoked: bool = False
    expires_at: str | None = None  # "YYYY-MM-DD"; expired tokens get 401


@dataclass
class FakeProject:
    id: int
    path_with_namespace: str
    visibility: str = "private"  # private, internal, public
    issues_access_level: str = "enabled"  # enabled, private, disabled
    archived: bool = False
    members: dict[int, int] = field(default_factory=dict)  # user id -> access level (direct members)
    group_members: dict[int, int] = field(default_factory=dict)  # user id -> access level (through the group)
    labels: set[str] = field(default_factory=set)
    next_iid: int = 1
    created_at: float = 0.0

    @property
    def name(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[0] if "/" in self.path_with_namespace else ""


class FakeGitLab(FakeServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.users: dict[int, FakeUser] = {}
        self.tokens: dict[str, FakeToken] = {}
        self.projects: dict[int, FakeProject] = {}
        self.issues: dict[tuple[int, int], dict[str, Any]] = {}  # (project id, iid) -> issue
        self.notes: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.clock: Callable[[], float] = time.time
        self.search_lag: float = 0.0  # seconds before a new issue shows up in `search=` results
        # Requests a minute; 0 turns a limit off. gitlab.com: API 2,000/user; issues 200; notes 60 (TRACKERS.md).
        self.limits: dict[str, int] = {
            "throttle_authenticated_api": 2000,
            "issues_create": 200,
            "notes_create": 60,
        }
        self._window_counts: dict[tuple[str, Any, int], int] = {}
        self._ids = itertools.count(1001)  # global ids of issues, notes, users, tokens
        super().__init__(host, port)

    # --- set-up from tests ----------------------------------------------------------------------------

    def add_user(self, username: str, token: str | None = None, scopes: Iterable[str] = ("api",),
                 is_admin: bool = False) -> FakeUser:
        with self.lock:
            user = FakeUser(next(self._ids), username, username.replace("-", " ").title(), is_admin)
            self.users[user.id] = user
            if token:
                self.add_token(username, token, scopes)
            return user

    def add_token(self, username: str, token: str, scopes: Iterable[str] = ("api",), revoked: bool = False,
                  expires_at: str | None = None) -> FakeToken:
        with self.lock:
            user = self.user(username)
            tok = FakeToken(next(self._ids), token, user.id, f"{username}-token", tuple(scopes), revoked, expires_at)
            self.tokens[token] = tok
            return tok

    def user(self, username: str) -> FakeUser:
        return next(u for u in self.users.values() if u.username == username)

    def add_project(self, path: str, project_id: int | None = None, members: dict[str, int] | None = None,
                    group_members: dict[str, int] | None = None, **attrs: Any) -> FakeProject:
        with self.lock:
            pid = project_id if project_id is not None else max(self.projects, default=0) + 1
            project = FakeProject(pid, path, created_at=self.clock(), **attrs)
            for username, level in (members or {}).items():
                project.members[self.user(username).id] = level
            for username, level in (group_members or {}).items():
                project.group_members[self.user(username).id] = level
            self.projects[pid] = project
            return project

    def set_access(self, project: FakeProject, username: str, level: int) -> None:
        with self.lock:
            project.members[self.user(username).id] = level

    def add_issue(self, project: FakeProject, title: str, description: str = "", labels: Iterable[str] = (),
                  author: str | None = None, state: str = "opened", created_at: float | None = None,
                  indexed: bool = True) -> dict[str, Any]:
        """Seed an issue without going through the API (no rate limit, no request log)."""
        with self.lock:
            user = self.user(author) if author else self._any_user()
            issue = self._new_issue(project, user, title, description, list(labels), created_at)
            if state == "closed":
                issue["state"], issue["closed_at"] = "closed", issue["created_at"]
                issue["closed_by"] = self._user_ref(user)
            if indexed:
                issue["_indexed_at"] = issue["_created"]
            return self._issue_json(project, issue)

    def issue(self, project: FakeProject, iid: int) -> dict[str, Any]:
        with self.lock:
            return self._issue_json(project, self.issues[(project.id, iid)])

    def reindex(self) -> None:
        """Let the search index catch up with every write so far."""
        with self.lock:
            for issue in self.issues.values():
                issue["_indexed_at"] = min(issue["_indexed_at"], self.clock())

    # --- routes -----------------------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("GET", f"{API}/user", self._get_user)
        self.route("GET", f"{API}/personal_access_tokens/self", self._get_token_self)
        self.route("GET", f"{API}{PROJECT}", self._get_project)
        self.route("GET", f"{API}{PROJECT}/issues", self._list_issues)
        self.route("POST", f"{API}{PROJECT}/issues", self._create_issue)
        self.route("GET", f"{API}{PROJECT}/issues/(?P<iid>[^/]+)", self._get_issue)
        self.route("PUT", f"{API}{PROJECT}/issues/(?P<iid>[^/]+)", self._edit_issue)
        self.route("GET", f"{API}{PROJECT}/issues/(?P<iid>[^/]+)/notes", self._list_notes)
        self.route("POST", f"{API}{PROJECT}/issues/(?P<iid>[^/]+)/notes", self._create_note)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            self.route(method, f"{API}/.*", lambda request: Response(404, {"error": "404 Not Found"}))

    # --- authentication and the API throttle ---------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if not request.path.startswith(API + "/"):
            return None
        token = request.headers.get("private-token") or request.arg("private_token")
        authorization = request.headers.get("authorization", "")
        if not token and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        with self.lock:
            tok = self.tokens.get(token or "")
            today = datetime.fromtimestamp(self.clock(), UTC).date().isoformat()
            if tok is None or tok.revoked or (tok.expires_at is not None and tok.expires_at <= today):
                return Response(401, UNAUTHORIZED)
            request.user = self.users[tok.user_id]  # type: ignore[attr-defined]
            request.token = tok  # type: ignore[attr-defined]
            limited, headers = self._throttle("throttle_authenticated_api", tok.user_id)
            request.rate_headers = headers  # type: ignore[attr-defined]
            if limited:
                return limited
            writes = request.method in ("POST", "PUT", "PATCH", "DELETE")
            if "api" not in tok.scopes and (writes or "read_api" not in tok.scopes):
                if not (request.path == f"{API}/user" and "read_user" in tok.scopes):
                    return Response(403, INSUFFICIENT_SCOPE, headers)
        return None

    def _handle(self, request: Request) -> Response:
        response = super()._handle(request)
        # Every authenticated API answer carries the API throttle's RateLimit-* headers.
        extra = getattr(request, "rate_headers", {})
        response.headers = {**extra, **response.headers}
        return response

    def _throttle(self, name: str, key: Any) -> tuple[Response | None, dict[str, str]]:
        """Count one request in a fixed one-minute window; a 429 Response when over the limit."""
        limit = self.limits.get(name, 0)
        if not limit:
            return None, {}
        now = self.clock()
        period = 60
        window = int(now // period)
        count = self._window_counts.get((name, key, window), 0) + 1
        self._window_counts[(name, key, window)] = count
        reset = (window + 1) * period
        headers = {
            "RateLimit-Name": name,
            "RateLimit-Limit": str(limit),
            "RateLimit-Observed": str(count),
            "RateLimit-Remaining": str(max(0, limit - count)),
            "RateLimit-Reset": str(reset),
            "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        }
        if count <= limit:
            return None, headers
        headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return Response(429, "Retry later\n", headers), headers

    # --- helpers ----------------------------------------------------------------------------------------------

    def _any_user(self) -> FakeUser:
        return next(iter(self.users.values()))

    def _access(self, project: FakeProject, user: FakeUser) -> int:
        return max(project.members.get(user.id, 0), project.group_members.get(user.id, 0))

    def _find_project(self, request: Request) -> FakeProject | Response:
        ref = unquote(request.params["project"])
        user: FakeUser = request.user  # type: ignore[attr-defined]
        project = None
        if ref.isdigit():
            project = self.projects.get(int(ref))
        else:
            project = next((p for p in self.projects.values() if p.path_with_namespace.lower() == ref.lower()), None)
        if project is None:
            return Response(404, {"message": "404 Project Not Found"})
        visible = project.visibility in ("public", "internal") or user.is_admin or self._access(project, user) >= GUEST
        if not visible:
            return Response(404, {"message": "404 Project Not Found"})
        return project

    def _issues_visible(self, project: FakeProject, user: FakeUser) -> bool:
        if project.issues_access_level == "disabled":
            return False
        if user.is_admin:
            return True
        if project.issues_access_level == "private" or project.visibility == "private":
            return self._access(project, user) >= GUEST
        return True

    def _can_update_issue(self, project: FakeProject, user: FakeUser, issue: dict[str, Any]) -> bool:
        """Edit, close, reopen: Planner/Reporter and up, or the issue's author (Guests included)."""
        if project.archived:
            return False
        return user.is_admin or self._access(project, user) >= PLANNER or issue["author"]["id"] == user.id

    def _can_set_metadata(self, project: FakeProject, user: FakeUser, creating: bool) -> bool:
        """Labels: Planner/Reporter and up; project members with Guest access too while creating the issue."""
        level = self._access(project, user)
        return user.is_admin or level >= PLANNER or (creating and level >= GUEST)

    def _params(self, request: Request) -> dict[str, Any]:
        """Query string, then a JSON or form body (GitLab's API takes parameters from both)."""
        params: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in request.query.items()}
        content_type = request.headers.get("content-type", "")
        if request.body:
            if "json" in content_type:
                try:
                    body = json.loads(request.body)
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise _BadRequest("400 Bad request - body is not a JSON object")
                params.update(body)
            else:
                params.update({k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()})
        return params

    @staticmethod
    def _label_list(value: Any) -> list[str]:
        if value is None:
            return []
        items = value if isinstance(value, list) else str(value).split(",")
        out: list[str] = []
        for item in items:
            name = str(item).strip()
            if name and name not in out:
                out.append(name)
        return out

    def _apply_labels(self, project: FakeProject, user: FakeUser, wanted: list[str]) -> list[str]:
        """Unknown labels are created for users who may manage labels, and dropped for the others."""
        may_create = user.is_admin or self._access(project, user) >= PLANNER
        kept = []
        for name in wanted:
            if name not in project.labels and may_create:
                project.labels.add(name)
            if name in project.labels:
                kept.append(name)
        return kept

    def _ts(self, epoch: float) -> str:
        moment = datetime.fromtimestamp(epoch, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def _user_ref(self, user: FakeUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "username": user.username,
            "name": user.name,
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{self.url}/{user.username}",
        }

    def _project_json(self, project: FakeProject, user: FakeUser) -> dict[str, Any]:
        direct = project.members.get(user.id)
        group = project.group_members.get(user.id)
        enabled = project.issues_access_level != "disabled"
        namespace = project.namespace
        return {
            "id": project.id,
            "description": None,
            "name": project.name,
            "name_with_namespace": project.path_with_namespace.replace("/", " / "),
            "path": project.name,
            "path_with_namespace": project.path_with_namespace,
            "created_at": self._ts(project.created_at),
            "default_branch": "main",
            "ssh_url_to_repo": f"git@localhost:{project.path_with_namespace}.git",
            "http_url_to_repo": f"{self.url}/{project.path_with_namespace}.git",
            "web_url": f"{self.url}/{project.path_with_namespace}",
            "visibility": project.visibility,
            "archived": project.archived,
            "issues_enabled": enabled,
            "issues_access_level": project.issues_access_level,
            "open_issues_count": sum(
                1 for (pid, _), i in self.issues.items() if pid == project.id and i["state"] == "opened"
            ) if enabled else None,
            "namespace": {"id": 1, "name": namespace, "path": namespace, "kind": "group", "full_path": namespace},
            "_links": {
                "self": f"{self.url}{API}/projects/{project.id}",
                "issues": f"{self.url}{API}/projects/{project.id}/issues",
            },
            "permissions": {
                "project_access": {"access_level": direct, "notification_level": 3} if direct else None,
                "group_access": {"access_level": group, "notification_level": 3} if group else None,
            },
        }

    def _new_issue(self, project: FakeProject, user: FakeUser, title: str, description: str, labels: list[str],
                   created_at: float | None = None) -> dict[str, Any]:
        now = self.clock() if created_at is None else created_at
        iid = project.next_iid
        project.next_iid += 1
        for name in labels:
            project.labels.add(name)
        issue = {
            "id": next(self._ids),
            "iid": iid,
            "project_id": project.id,
            "title": title,
            "description": description,
            "state": "opened",
            "created_at": self._ts(now),
            "updated_at": self._ts(now),
            "closed_at": None,
            "closed_by": None,
            "labels": labels,
            "author": self._user_ref(user),
            "user_notes_count": 0,
            "_created": now,
            "_updated": now,
            "_indexed_at": now + self.search_lag,
        }
        self.issues[(project.id, iid)] = issue
        self.notes[(project.id, iid)] = []
        return issue

    def _issue_json(self, project: FakeProject, issue: dict[str, Any]) -> dict[str, Any]:
        iid = issue["iid"]
        base = f"{self.url}{API}/projects/{project.id}"
        return {
            **{k: v for k, v in issue.items() if not k.startswith("_")},
            "labels": list(issue["labels"]),
            "milestone": None,
            "assignees": [],
            "assignee": None,
            "type": "ISSUE",
            "issue_type": "issue",
            "upvotes": 0,
            "downvotes": 0,
            "merge_requests_count": 0,
            "due_date": None,
            "confidential": False,
            "discussion_locked": None,
            "web_url": f"{self.url}/{project.path_with_namespace}/-/issues/{iid}",
            "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                           "human_total_time_spent": None},
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_tasks": False,
            "references": {"short": f"#{iid}", "relative": f"#{iid}", "full": f"{project.path_with_namespace}#{iid}"},
            "severity": "UNKNOWN",
            "moved_to_id": None,
            "service_desk_reply_to": None,
            "_links": {
                "self": f"{base}/issues/{iid}",
                "notes": f"{base}/issues/{iid}/notes",
                "award_emoji": f"{base}/issues/{iid}/award_emoji",
                "project": base,
                "closed_as_duplicate_of": None,
            },
        }

    def _paginate(self, request: Request, items: list[Any]) -> Response:
        try:
            per_page = int(request.arg("per_page") or DEFAULT_PER_PAGE)
            page = int(request.arg("page") or 1)
        except ValueError:
            return Response(400, {"error": "page is invalid, per_page is invalid"})
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        page = max(page, 1)
        total = len(items)
        total_pages = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        next_page = page + 1 if page * per_page < total else None
        prev_page = page - 1 if page > 1 else None

        def link(target: int) -> str:
            query = {k: v for k, v in request.query.items() if k not in ("page", "per_page")}
            pairs = [(k, item) for k, values in query.items() for item in values]
            pairs += [("page", str(target)), ("per_page", str(per_page))]
            return f"{self.url}{request.path}?{urlencode(pairs, quote_via=quote)}"

        links = []
        if prev_page:
            links.append(f'<{link(prev_page)}>; rel="prev"')
        if next_page:
            links.append(f'<{link(next_page)}>; rel="next"')
        links.append(f'<{link(1)}>; rel="first"')
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(next_page or ""),
            "X-Prev-Page": str(prev_page or ""),
        }
        if total <= COUNT_LIMIT:
            links.append(f'<{link(total_pages)}>; rel="last"')
            headers["X-Total"] = str(total)
            headers["X-Total-Pages"] = str(total_pages)
        headers["Link"] = ", ".join(links)
        return Response(200, chunk, headers)

    def _issue_for(self, request: Request) -> tuple[FakeProject, dict[str, Any]] | Response:
        project = self._find_project(request)
        if isinstance(project, Response):
            return project
        if not self._issues_visible(project, request.user):  # type: ignore[attr-defined]
            return Response(403, FORBIDDEN)
        iid = request.params["iid"]
        issue = self.issues.get((project.id, int(iid))) if iid.isdigit() else None
        if issue is None:
            return Response(404, {"message": "404 Issue Not Found"})
        return project, issue

    # --- handlers -------------------------------------------------------------------------------------------

    def _get_user(self, request: Request) -> Response:
        user: FakeUser = request.user  # type: ignore[attr-defined]
        body = {**self._user_ref(user), "bot": False, "created_at": self._ts(0), "public_email": None}
        if user.is_admin:
            body["is_admin"] = True
        return Response(200, body)

    def _get_token_self(self, request: Request) -> Response:
        tok: FakeToken = request.token  # type: ignore[attr-defined]
        return Response(200, {
            "id": tok.id,
            "name": tok.name,
            "revoked": tok.revoked,
            "created_at": self._ts(0),
            "description": None,
            "scopes": list(tok.scopes),
            "user_id": tok.user_id,
            "last_used_at": self._ts(self.clock()),
            "active": True,
            "expires_at": tok.expires_at,
        })

    def _get_project(self, request: Request) -> Response:
        project = self._find_project(request)
        if isinstance(project, Response):
            return project
        return Response(200, self._project_json(project, request.user))  # type: ignore[attr-defined]

    def _list_issues(self, request: Request) -> Response:
        project = self._find_project(request)
        if isinstance(project, Response):
            return project
        if not self._issues_visible(project, request.user):  # type: ignore[attr-defined]
            return Response(403, FORBIDDEN)
        issues = [i for (pid, _), i in self.issues.items() if pid == project.id]

        iids = request.query.get("iids[]") or request.query.get("iids")
        if iids:
            wanted = {int(v) for value in iids for v in value.split(",") if v.strip().isdigit()}
            issues = [i for i in issues if i["iid"] in wanted]
        state = request.arg("state", "all")
        if state in ("opened", "closed"):
            issues = [i for i in issues if i["state"] == state]
        labels = request.arg("labels")
        if labels:
            names = self._label_list(labels)
            if [n.lower() for n in names] == ["none"]:
                issues = [i for i in issues if not i["labels"]]
            elif [n.lower() for n in names] == ["any"]:
                issues = [i for i in issues if i["labels"]]
            else:
                issues = [i for i in issues if all(n in i["labels"] for n in names)]
        for name, key, after in (("created_after", "_created", True), ("created_before", "_created", False),
                                 ("updated_after", "_updated", True), ("updated_before", "_updated", False)):
            value = request.arg(name)
            if value:
                try:
                    moment = datetime.fromisoformat(value.replace(" ", "+"))
                except ValueError:
                    return Response(400, {"error": f"{name} is invalid"})
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                bound = moment.timestamp()
                issues = [i for i in issues if (i[key] >= bound if after else i[key] <= bound)]
        search = request.arg("search")
        if search:
            fields = [f.strip() for f in (request.arg("in") or "title,description").split(",")]
            now = self.clock()
            needle = search.lower()
            issues = [
                i for i in issues
                if i["_indexed_at"] <= now and any(needle in (i.get(f) or "").lower() for f in fields)
            ]
        order_by = request.arg("order_by", "created_at")
        sort = request.arg("sort", "desc")
        if order_by not in ("created_at", "updated_at", "title") or sort not in ("asc", "desc"):
            return Response(400, {"error": "order_by, sort does not have a valid value"})
        sort_key = {"created_at": "_created", "updated_at": "_updated", "title": "title"}[order_by]
        issues.sort(key=lambda i: (i[sort_key], i["id"]), reverse=sort == "desc")
        return self._paginate(request, [self._issue_json(project, i) for i in issues])

    def _create_issue(self, request: Request) -> Response:
        project = self._find_project(request)
        if isinstance(project, Response):
            return project
        user: FakeUser = request.user  # type: ignore[attr-defined]
        can_create = self._issues_visible(project, user) and not project.archived and (
            user.is_admin or project.visibility != "private" or self._access(project, user) >= GUEST
        )
        if not can_create:
            return Response(403, FORBIDDEN)
        limited, _ = self._throttle("issues_create", (project.id, user.id))
        if limited:
            return limited
        try:
            params = self._params(request)
        except _BadRequest as exc:
            return Response(400, {"error": str(exc)})
        title = str(params.get("title") or "").strip()
        if not title:
            return Response(400, {"error": "title is missing"})
        if len(title) > 255:
            return Response(400, {"message": {"title": ["is too long (maximum is 255 characters)"]}})
        labels: list[str] = []
        if self._can_set_metadata(project, user, creating=True):
            labels = self._apply_labels(project, user, self._label_list(params.get("labels")))
        issue = self._new_issue(project, user, title, str(params.get("description") or ""), labels)
        return Response(201, self._issue_json(project, issue))

    def _get_issue(self, request: Request) -> Response:
        found = self._issue_for(request)
        if isinstance(found, Response):
            return found
        project, issue = found
        return Response(200, self._issue_json(project, issue))

    def _edit_issue(self, request: Request) -> Response:
        found = self._issue_for(request)
        if isinstance(found, Response):
            return found
        project, issue = found
        user: FakeUser = request.user  # type: ignore[attr-defined]
        if not self._can_update_issue(project, user, issue):
            return Response(403, FORBIDDEN)
        try:
            params = self._params(request)
        except _BadRequest as exc:
            return Response(400, {"error": str(exc)})
        known = ("title", "description", "labels", "add_labels", "remove_labels", "state_event")
        if not any(k in params for k in known):
            return Response(400, {"error": ", ".join(known) + " are missing, at least one parameter must be provided"})
        now = self.clock()
        if "title" in params:
            issue["title"] = str(params["title"])
        if "description" in params:
            issue["description"] = str(params["description"] or "")
        if self._can_set_metadata(project, user, creating=False):  # silently ignored otherwise, as GitLab does
            if "labels" in params:
                issue["labels"] = self._apply_labels(project, user, self._label_list(params["labels"]))
            for name in self._apply_labels(project, user, self._label_list(params.get("add_labels"))):
                if name not in issue["labels"]:
                    issue["labels"].append(name)
            removed = set(self._label_list(params.get("remove_labels")))
            issue["labels"] = [n for n in issue["labels"] if n not in removed]
        event = params.get("state_event")
        if event == "close" and issue["state"] == "opened":
            issue["state"], issue["closed_at"], issue["closed_by"] = "closed", self._ts(now), self._user_ref(user)
        elif event == "reopen" and issue["state"] == "closed":
            issue["state"], issue["closed_at"], issue["closed_by"] = "opened", None, None
        elif event not in (None, "close", "reopen"):
            return Response(400, {"error": "state_event does not have a valid value"})
        issue["_updated"] = now
        issue["updated_at"] = self._ts(now)
        return Response(200, self._issue_json(project, issue))

    def _list_notes(self, request: Request) -> Response:
        found = self._issue_for(request)
        if isinstance(found, Response):
            return found
        project, issue = found
        notes = list(self.notes[(project.id, issue["iid"])])
        if request.arg("sort", "desc") == "desc":
            notes.reverse()
        return self._paginate(request, notes)

    def _create_note(self, request: Request) -> Response:
        found = self._issue_for(request)
        if isinstance(found, Response):
            return found
        project, issue = found
        user: FakeUser = request.user  # type: ignore[attr-defined]
        if project.archived:
            return Response(403, FORBIDDEN)
        limited, _ = self._throttle("notes_create", user.id)
        if limited:
            return limited
        try:
            params = self._params(request)
        except _BadRequest as exc:
            return Response(400, {"error": str(exc)})
        body = str(params.get("body") or "")
        if not body.strip():
            return Response(400, {"error": "body is missing"})
        now = self.clock()
        note = {
            "id": next(self._ids),
            "type": None,
            "body": body,
            "attachment": None,
            "author": self._user_ref(user),
            "created_at": self._ts(now),
            "updated_at": self._ts(now),
            "system": False,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "noteable_iid": issue["iid"],
            "project_id": project.id,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        self.notes[(project.id, issue["iid"])].append(note)
        issue["user_notes_count"] += 1
        issue["_updated"] = now
        issue["updated_at"] = self._ts(now)
        return Response(201, note)


class _BadRequest(Exception):
    pass
