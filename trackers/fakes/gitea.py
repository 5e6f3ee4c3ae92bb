"""A fake Gitea that speaks the documented REST API v1 (under /api/v1), for the Gitea adapter to talk to unchanged.

Written from Gitea's documentation and swagger specification, not from what Certifai sends:

- API usage (https://docs.gitea.com/development/api-usage): authentication by `Authorization: token T` (OAuth2 tokens
  also as `Bearer`), or the `token=` / `access_token=` query parameters (deprecated in the swagger's
  securityDefinitions, "for removal in Gitea 1.23": `allow_query_token=False` models an instance without them);
  `MAX_RESPONSE_ITEMS` 50 and `DEFAULT_PAGING_NUM` 30 (config cheat sheet, [api] section).
- The swagger spec (templates/swagger/v1_json.tmpl in go-gitea/gitea): `GET /user`; `GET /repos/{owner}/{repo}`
  (Repository: `permissions` {admin, push, pull}, `has_issues`, `html_url`, `archived`...);
  `GET/POST /repos/{owner}/{repo}/issues` (CreateIssueOption: `title` required, `body`, `labels` = "list of label
  ids"; list filters `state` closed|open|all, `labels` "comma separated list of labels. Fetch only issues that have
  any of this labels. Non existent labels are discarded", `q`, `type` issues|pulls, `since`/`before` "Only show items
  updated after/before the given time ... RFC 3339", `page` (1-based), `limit`); `GET/PATCH
  /repos/{owner}/{repo}/issues/{index}` (EditIssueOption `title`, `body`, `state`; the edit answers **201**);
  `GET/POST .../issues/{index}/comments` (201); `GET/POST /repos/{owner}/{repo}/labels` (CreateLabelOption: `name`,
  `color` required, e.g. "#00aabb"; a Label's `color` comes back without '#'); `POST .../issues/{index}/labels`
  (IssueLabelsOption `labels`: "list of label IDs", answers 200 with the issue's labels); `DELETE
  .../issues/{index}/labels/{id}` (204; an unknown label id is 422). Errors are
  APIError `{"message", "url"}` where `url` is the instance's /api/swagger; 404s are `APINotFound`.
- Behaviour read in Gitea's own code (routers/api/v1/repo/issue.go, label.go, models/issues): unknown or foreign
  label ids on issue creation are *silently dropped* ("Silently drop invalid labels"), and a user who may not write
  the repository's issues gets *all* labels dropped; a label name instead of an id fails JSON binding: 422;
  creating a label whose name already exists makes a *second* label with that name (no uniqueness check); a bad
  `since` is 422; lists answer `X-Total-Count` and a `Link` header (next/last/first/prev) built on ROOT_URL; default
  order newest first; a page size above MAX_RESPONSE_ITEMS is cut to it.
- Scoped tokens (Gitea >= 1.20, https://docs.gitea.com/development/oauth2-provider#scopes): `read:`/`write:`
  `repository`, `issue` (issues, labels, comments), `user` (`GET /user`), `all`; a missing scope is 403
  "token does not have at least one of required scope(s): [write:issue]". Invalid token: 401; no token where one is
  required: 401 "token is required".
- Issue search (`q`) goes through the issue indexer (bleve/elasticsearch/meilisearch: ISSUE_INDEXER_TYPE), fed by
  a queue, so it lags behind writes: `search_lag` seconds (math.inf = never indexed until `flush_index()`). Every
  other filter reads the database and is consistent.
- Gitea has no built-in API rate limit (a reverse proxy may answer 429 + Retry-After: use the base class faults).

Timestamps are whole seconds (Gitea stores unix seconds) rendered as RFC 3339 in the server's time zone (`tz`);
`clock` gives the server's time, so tests can skew it against the client's.

Set-up from tests::

    server = FakeGitea().start()
    server.add_user("certifai-bot")
    server.add_token("certifai-bot", "s3cret", scopes=("write:issue", "read:repository"))
    server.add_repo("acme/webapp", private=True, members={"certifai-bot": "write"})
    server.add_label("acme/webapp", "bug")
    server.add_issue("acme/webapp", "Seeded", body="...", labels=["certifai"], user="certifai-bot")
    server.search_lag = math.inf
"""

from __future__ import annotations

import itertools
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import unquote, urlencode

from .base import FakeServer, Request, Response

API = "/api/v1"
REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"

# Access modes (models/perm/access_mode.go): none, read, write, admin, owner.
NONE, READ, WRITE, ADMIN, OWNER = 0, 1, 2, 3, 4
MODES = {"none": NONE, "read": READ, "write": WRITE, "admin": ADMIN, "owner": OWNER}

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_COLOR = re.compile(r"^#?(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


@dataclass
class FakeUser:
    id: int
    login: str
    full_name: str = ""
    email: str = ""
    is_admin: bool = False


@dataclass
class FakeToken:
    value: str
    login: str
    scopes: frozenset[str]


@dataclass
class FakeLabel:
    id: int
    name: str
    color: str  # "#rrggbb", stored as Gitea stores it
    description: str = ""
    exclusive: bool = False
    is_archived: bool = False


@dataclass
class FakeComment:
    id: int
    user: str
    body: str
    created: int
    updated: int


@dataclass
class FakeIssue:
    id: int
    number: int
    title: str
    body: str
    user: str
    state: str = "open"
    labels: list[int] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    closed: int | None = None
    is_pull: bool = False
    is_locked: bool = False
    comments: list[FakeComment] = field(default_factory=list)
    indexed_text: str = ""  # what the search indexer knows
    index_queue: list[tuple[float, str]] = field(default_factory=list)  # (ready at, text) not yet indexed


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    private: bool = True
    has_issues: bool = True
    archived: bool = False
    external_tracker: str = ""
    created: int = 0
    members: dict[str, int] = field(default_factory=dict)  # login (lower) -> access mode
    labels: dict[int, FakeLabel] = field(default_factory=dict)
    issues: dict[int, FakeIssue] = field(default_factory=dict)
    next_index: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitea(FakeServer):
    def __init__(
        self,
        *,
        search_lag: float = 0.0,
        tz: tzinfo = UTC,
        clock: Callable[[], float] = time.time,
        allow_query_token: bool = True,
        max_response_items: int = 50,
        default_paging_num: int = 30,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.search_lag = search_lag
        self.tz = tz
        self.clock = clock
        self.allow_query_token = allow_query_token
        self.max_response_items = max_response_items
        self.default_paging_num = default_paging_num
        self.users: dict[str, FakeUser] = {}
        self.tokens: dict[str, FakeToken] = {}
        self.repos: dict[str, FakeRepo] = {}
        self._ids = itertools.count(1)
        super().__init__(host, port)
        report = self.httpd.handle_error

        def handle_error(request: Any, client_address: Any) -> None:
            # A client that gave up (timeout, dropped connection) is what the faults are for: not worth a traceback.
            if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
                report(request, client_address)

        self.httpd.handle_error = handle_error  # type: ignore[method-assign]
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per answer.
        self.httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]

    def start(self) -> FakeGitea:
        # As the base class, but polling for shutdown every 50 ms instead of 500: stop() is quick.
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    # --- set-up helpers for tests -------------------------------------------------------------

    def add_user(self, login: str, *, full_name: str = "", email: str = "", is_admin: bool = False) -> FakeUser:
        with self.lock:
            user = FakeUser(next(self._ids), login, full_name or login, email or f"{login}@example.com", is_admin)
            self.users[login.lower()] = user
            return user

    def add_token(self, login: str, token: str, scopes: Iterable[str] = ("all",)) -> FakeToken:
        with self.lock:
            if login.lower() not in self.users:
                self.add_user(login)
            fake = FakeToken(token, login.lower(), frozenset(scopes))
            self.tokens[token] = fake
            return fake

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = True,
        has_issues: bool = True,
        archived: bool = False,
        external_tracker: str = "",
        members: dict[str, str] | None = None,
    ) -> FakeRepo:
        owner, name = full_name.split("/", 1)
        with self.lock:
            if owner.lower() not in self.users:
                self.add_user(owner)
            repo = FakeRepo(
                next(self._ids), owner, name, private, has_issues, archived, external_tracker, created=self._now()
            )
            self.repos[full_name.lower()] = repo
            for login, mode in (members or {}).items():
                self.grant(login, full_name, mode)
            return repo

    def grant(self, login: str, full_name: str, mode: str) -> None:
        with self.lock:
            if login.lower() not in self.users:
                self.add_user(login)
            self.repo(full_name).members[login.lower()] = MODES[mode]

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos[full_name.lower()]

    def add_label(self, full_name: str, name: str, color: str = "#ededed", description: str = "") -> FakeLabel:
        with self.lock:
            repo = self.repo(full_name)
            label = FakeLabel(next(self._ids), name, _normalize_color(color) or "#ededed", description)
            repo.labels[label.id] = label
            return label

    def add_issue(
        self,
        full_name: str,
        title: str,
        *,
        body: str = "",
        labels: Iterable[str] = (),
        user: str | None = None,
        state: str = "open",
        is_pull: bool = False,
        created: int | None = None,
    ) -> FakeIssue:
        """Seed an issue directly (no HTTP). Label names that don't exist yet are created."""
        with self.lock:
            repo = self.repo(full_name)
            ids = []
            for name in labels:
                label = next((lab for lab in repo.labels.values() if lab.name == name), None)
                ids.append((label or self.add_label(full_name, name)).id)
            issue = self._new_issue(repo, title, body, user or repo.owner, ids, is_pull=is_pull)
            if created is not None:
                issue.created = issue.updated = created
            if state == "closed":
                issue.state, issue.closed = "closed", issue.updated
            return issue

    def add_pull_request(self, full_name: str, title: str, *, body: str = "", user: str | None = None) -> FakeIssue:
        return self.add_issue(full_name, title, body=body, user=user, is_pull=True)

    def issue(self, full_name: str, number: int) -> FakeIssue:
        return self.repo(full_name).issues[number]

    def label_names(self, full_name: str, number: int) -> list[str]:
        repo = self.repo(full_name)
        return [repo.labels[i].name for i in self.issue(full_name, number).labels if i in repo.labels]

    def flush_index(self) -> None:
        """Let the issue indexer catch up with every queued change."""
        with self.lock:
            for repo in self.repos.values():
                for issue in repo.issues.values():
                    if issue.index_queue:
                        issue.indexed_text = issue.index_queue[-1][1]
                        issue.index_queue.clear()

    # --- internals: time, formatting ------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _time(self, ts: int | None) -> str | None:
        if ts is None:
            return None
        text = datetime.fromtimestamp(ts, self.tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text  # Go's RFC 3339 writes UTC as Z

    @property
    def app_url(self) -> str:  # ROOT_URL
        return self.url + "/"

    def _error(self, status: int, message: str) -> Response:
        return Response(status, {"message": message, "url": self.app_url + "api/swagger"})

    def _not_found(self) -> Response:
        return Response(
            404, {"errors": [], "message": "The target couldn't be found.", "url": self.app_url + "api/swagger"}
        )

    def _user_json(self, login: str) -> dict[str, Any]:
        user = self.users.get(login.lower()) or FakeUser(0, login)
        return {
            "id": user.id,
            "login": user.login,
            "login_name": "",
            "source_id": 0,
            "full_name": user.full_name,
            "email": user.email,
            "avatar_url": f"{self.app_url}avatars/{user.id}",
            "html_url": self.app_url + user.login,
            "language": "en-US",
            "is_admin": user.is_admin,
            "last_login": self._time(self._now()),
            "created": self._time(self._now()),
            "restricted": False,
            "active": True,
            "prohibit_login": False,
            "location": "",
            "website": "",
            "description": "",
            "visibility": "public",
            "followers_count": 0,
            "following_count": 0,
            "starred_repos_count": 0,
            "username": user.login,
        }

    def _label_json(self, repo: FakeRepo, label: FakeLabel) -> dict[str, Any]:
        return {
            "id": label.id,
            "name": label.name,
            "exclusive": label.exclusive,
            "is_archived": label.is_archived,
            "color": label.color.lstrip("#"),
            "description": label.description,
            "url": f"{self.app_url}api/v1/repos/{repo.full_name}/labels/{label.id}",
        }

    def _issue_json(self, repo: FakeRepo, issue: FakeIssue) -> dict[str, Any]:
        kind = "pulls" if issue.is_pull else "issues"
        html_url = f"{self.app_url}{repo.full_name}/{kind}/{issue.number}"
        return {
            "id": issue.id,
            "url": f"{self.app_url}api/v1/repos/{repo.full_name}/issues/{issue.number}",
            "html_url": html_url,
            "number": issue.number,
            "user": self._user_json(issue.user),
            "original_author": "",
            "original_author_id": 0,
            "title": issue.title,
            "body": issue.body,
            "ref": "",
            "assets": [],
            "labels": [self._label_json(repo, repo.labels[i]) for i in issue.labels if i in repo.labels],
            "milestone": None,
            "assignee": None,
            "assignees": None,
            "state": issue.state,
            "is_locked": issue.is_locked,
            "comments": len(issue.comments),
            "created_at": self._time(issue.created),
            "updated_at": self._time(issue.updated),
            "closed_at": self._time(issue.closed),
            "due_date": None,
            "pull_request": (
                {"merged": False, "merged_at": None, "draft": False, "html_url": html_url} if issue.is_pull else None
            ),
            "repository": {"id": repo.id, "name": repo.name, "owner": repo.owner, "full_name": repo.full_name},
            "pin_order": 0,
        }

    def _comment_json(self, repo: FakeRepo, issue: FakeIssue, comment: FakeComment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "html_url": f"{self.app_url}{repo.full_name}/issues/{issue.number}#issuecomment-{comment.id}",
            "pull_request_url": "",
            "issue_url": f"{self.app_url}{repo.full_name}/issues/{issue.number}",
            "user": self._user_json(comment.user),
            "original_author": "",
            "original_author_id": 0,
            "body": comment.body,
            "assets": [],
            "created_at": self._time(comment.created),
            "updated_at": self._time(comment.updated),
        }

    def _repo_json(self, repo: FakeRepo, mode: int) -> dict[str, Any]:
        html_url = self.app_url + repo.full_name
        data: dict[str, Any] = {
            "id": repo.id,
            "owner": self._user_json(repo.owner),
            "name": repo.name,
            "full_name": repo.full_name,
            "description": "",
            "empty": False,
            "private": repo.private,
            "fork": False,
            "template": False,
            "parent": None,
            "mirror": False,
            "size": 0,
            "language": "",
            "languages_url": f"{self.app_url}api/v1/repos/{repo.full_name}/languages",
            "html_url": html_url,
            "url": f"{self.app_url}api/v1/repos/{repo.full_name}",
            "link": "",
            "ssh_url": f"git@127.0.0.1:{repo.full_name}.git",
            "clone_url": html_url + ".git",
            "original_url": "",
            "website": "",
            "stars_count": 0,
            "forks_count": 0,
            "watchers_count": 1,
            "open_issues_count": sum(1 for i in repo.issues.values() if i.state == "open" and not i.is_pull),
            "open_pr_counter": 0,
            "release_counter": 0,
            "default_branch": "main",
            "archived": repo.archived,
            "created_at": self._time(repo.created),
            "updated_at": self._time(repo.created),
            "archived_at": self._time(repo.created if repo.archived else 0),
            "permissions": {"admin": mode >= ADMIN, "push": mode >= WRITE, "pull": mode >= READ},
            "has_issues": repo.has_issues,
            "has_wiki": True,
            "has_pull_requests": True,
            "has_projects": False,
            "has_releases": True,
            "has_packages": False,
            "has_actions": False,
            "ignore_whitespace_conflicts": False,
            "allow_merge_commits": True,
            "allow_rebase": True,
            "allow_rebase_explicit": True,
            "allow_squash_merge": True,
            "allow_fast_forward_only_merge": False,
            "allow_rebase_update": True,
            "default_delete_branch_after_merge": False,
            "default_merge_style": "merge",
            "default_allow_maintainer_edit": False,
            "avatar_url": "",
            "internal": False,
            "mirror_interval": "",
            "object_format_name": "sha1",
            "mirror_updated": self._time(0),
            "repo_transfer": None,
        }
        if repo.has_issues and not repo.external_tracker:
            data["internal_tracker"] = {
                "enable_time_tracker": True,
                "allow_only_contributors_to_track_time": True,
                "enable_issue_dependencies": True,
            }
        if repo.external_tracker:
            data["external_tracker"] = {
                "external_tracker_url": repo.external_tracker,
                "external_tracker_format": "",
                "external_tracker_style": "numeric",
            }
        return data

    # --- internals: issues, indexer -------------------------------------------------------------

    def _new_issue(
        self, repo: FakeRepo, title: str, body: str, user: str, label_ids: list[int], *, is_pull: bool = False
    ) -> FakeIssue:
        now = self._now()
        issue = FakeIssue(
            next(self._ids),
            repo.next_index,
            title,
            body,
            user,
            labels=sorted(set(label_ids)),
            created=now,
            updated=now,
            is_pull=is_pull,
        )
        repo.next_index += 1
        repo.issues[issue.number] = issue
        self._reindex(issue)
        return issue

    def _touch(self, issue: FakeIssue) -> None:
        issue.updated = self._now()
        self._reindex(issue)

    def _reindex(self, issue: FakeIssue) -> None:
        text = "\n".join([issue.title, issue.body, *(c.body for c in issue.comments)])
        if self.search_lag <= 0:
            issue.indexed_text, issue.index_queue = text, []
        else:
            issue.index_queue.append((time.monotonic() + self.search_lag, text))

    def _search(self, repo: FakeRepo, keyword: str) -> set[int]:
        now = time.monotonic()
        terms = keyword.lower().split()
        found = set()
        for issue in repo.issues.values():
            ready = [text for at, text in issue.index_queue if at <= now]
            if ready:
                issue.indexed_text = ready[-1]
                issue.index_queue = [(at, text) for at, text in issue.index_queue if at > now]
            if terms and all(term in issue.indexed_text.lower() for term in terms):
                found.add(issue.number)
        return found

    # --- internals: auth, permissions -----------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        token = None
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() in ("token", "bearer") and value.strip():
                token = value.strip()
            else:
                return self._error(401, "invalid username, password or token")
        elif self.allow_query_token:
            token = request.arg("token") or request.arg("access_token")
        request.user = None  # type: ignore[attr-defined]
        request.scopes = None  # type: ignore[attr-defined]
        if token is None:
            return None
        fake = self.tokens.get(token)
        if fake is None or fake.login not in self.users:
            return self._error(401, "invalid username, password or token")
        request.user = self.users[fake.login]  # type: ignore[attr-defined]
        request.scopes = fake.scopes  # type: ignore[attr-defined]
        return None

    def _need_token(self, request: Request) -> Response | None:
        if getattr(request, "user", None) is None:
            return self._error(401, "token is required")
        return None

    def _need_scope(self, request: Request, category: str, write: bool) -> Response | None:
        scopes = getattr(request, "scopes", None)
        if scopes is None or "all" in scopes:
            return None
        needed = f"write:{category}" if write else f"read:{category}"
        if f"write:{category}" in scopes or (not write and needed in scopes):
            return None
        return self._error(403, f"token does not have at least one of required scope(s): [{needed}]")

    def _mode(self, request: Request, repo: FakeRepo) -> int:
        user: FakeUser | None = getattr(request, "user", None)
        if user is not None:
            if user.login.lower() == repo.owner.lower():
                return OWNER
            if user.is_admin:
                return ADMIN
            mode = repo.members.get(user.login.lower(), NONE)
            if mode:
                return mode
        return NONE if repo.private else READ

    def _repo_for(self, request: Request, category: str, write: bool) -> tuple[FakeRepo | None, int, Response | None]:
        """Scope check, then the repository as the caller can see it (invisible = 404), then its mode."""
        if write and (err := self._need_token(request)):
            return None, NONE, err
        if err := self._need_scope(request, category, write):
            return None, NONE, err
        key = f"{unquote(request.params['owner'])}/{unquote(request.params['repo'])}".lower()
        repo = self.repos.get(key)
        if repo is None:
            return None, NONE, self._not_found()
        mode = self._mode(request, repo)
        if mode < READ:
            return None, NONE, self._not_found()
        if category == "issue" and (not repo.has_issues or repo.external_tracker):
            return None, NONE, self._not_found()  # mustEnableIssues
        if write and repo.archived:
            return None, NONE, self._error(423, "repo is archived")
        return repo, mode, None

    def _issue_for(self, request: Request, repo: FakeRepo) -> FakeIssue | None:
        try:
            return repo.issues.get(int(request.params["index"]))
        except ValueError:
            return None

    # --- internals: bodies, paging --------------------------------------------------------------

    def _form(self, request: Request, option: str) -> tuple[dict[str, Any] | None, Response | None]:
        try:
            data = request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            return None, self._error(422, f"[]: invalid JSON: {exc}")
        if not isinstance(data, dict):
            return None, self._error(
                422, f"[]: json: cannot unmarshal {type(data).__name__} into Go value of type structs.{option}"
            )
        return data, None

    def _page(self, request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """utils.GetListOptions + SetLinkHeader + SetTotalCountHeader."""
        try:
            page = int(request.arg("page", "1") or 1)
        except ValueError:
            page = 1
        try:
            limit = int(request.arg("limit", "0") or 0)
        except ValueError:
            limit = 0
        page = max(page, 1)
        if limit <= 0:
            limit = self.default_paging_num
        limit = min(limit, self.max_response_items)
        total = len(items)
        headers = {"X-Total-Count": str(total), "Access-Control-Expose-Headers": "X-Total-Count, Link"}
        last = max(1, math.ceil(total / limit))
        links = []

        def link(target: int, rel: str) -> str:
            query = {k: v[0] for k, v in request.query.items()}
            query["page"] = str(target)
            return f'<{self.app_url}{request.path.lstrip("/")}?{urlencode(sorted(query.items()))}>; rel="{rel}"'

        if page < last:
            links.append(link(page + 1, "next"))
        if page != last:
            links.append(link(last, "last"))
        if page != 1:
            links.append(link(1, "first"))
        if 1 < page <= last:
            links.append(link(page - 1, "prev"))
        if links:
            headers["Link"] = ",".join(links)
        start = (page - 1) * limit
        return items[start : start + limit], headers

    # --- routes -------------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("GET", API + r"/user", self._get_user)
        self.route("GET", API + REPO, self._get_repo)
        self.route("GET", API + REPO + r"/issues", self._list_issues)
        self.route("POST", API + REPO + r"/issues", self._create_issue)
        self.route("GET", API + REPO + r"/issues/(?P<index>[^/]+)", self._get_issue)
        self.route("PATCH", API + REPO + r"/issues/(?P<index>[^/]+)", self._edit_issue)
        self.route("GET", API + REPO + r"/issues/(?P<index>[^/]+)/comments", self._list_comments)
        self.route("POST", API + REPO + r"/issues/(?P<index>[^/]+)/comments", self._create_comment)
        self.route("GET", API + REPO + r"/issues/(?P<index>[^/]+)/labels", self._get_issue_labels)
        self.route("POST", API + REPO + r"/issues/(?P<index>[^/]+)/labels", self._add_issue_labels)
        self.route("DELETE", API + REPO + r"/issues/(?P<index>[^/]+)/labels/(?P<id>[^/]+)", self._remove_issue_label)
        self.route("GET", API + REPO + r"/labels", self._list_labels)
        self.route("POST", API + REPO + r"/labels", self._create_label)

    def _get_user(self, request: Request) -> Response:
        if err := self._need_token(request) or self._need_scope(request, "user", write=False):
            return err
        return Response(200, self._user_json(request.user.login))  # type: ignore[attr-defined]

    def _get_repo(self, request: Request) -> Response:
        repo, mode, err = self._repo_for(request, "repository", write=False)
        if err:
            return err
        return Response(200, self._repo_json(repo, mode))

    def _list_issues(self, request: Request) -> Response:
        repo, _mode, err = self._repo_for(request, "issue", write=False)
        if err:
            return err
        bounds = {}
        for name in ("since", "before"):
            value = request.arg(name)
            if value:
                if not _RFC3339.match(value):
                    return self._error(422, f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse')
                bounds[name] = int(datetime.fromisoformat(value).timestamp())
        state = request.arg("state", "open")
        issues = list(repo.issues.values())
        if state in ("open", "closed"):
            issues = [i for i in issues if i.state == state]
        elif state != "all":
            issues = [i for i in issues if i.state == "open"]
        kind = request.arg("type")
        if kind == "issues":
            issues = [i for i in issues if not i.is_pull]
        elif kind == "pulls":
            issues = [i for i in issues if i.is_pull]
        names = request.arg("labels")
        if names:
            wanted = {lab.id for lab in repo.labels.values() if lab.name in names.split(",")}
            if wanted:  # non existent labels are discarded; all discarded = no label filter
                issues = [i for i in issues if wanted & set(i.labels)]
        if "since" in bounds:
            issues = [i for i in issues if i.updated >= bounds["since"]]
        if "before" in bounds:
            issues = [i for i in issues if i.updated <= bounds["before"]]
        keyword = (request.arg("q") or "").strip()
        if keyword:
            hits = self._search(repo, keyword)
            issues = [i for i in issues if i.number in hits]
        issues.sort(key=lambda i: (i.created, i.id), reverse=True)
        page, headers = self._page(request, issues)
        return Response(200, [self._issue_json(repo, i) for i in page], headers)

    def _create_issue(self, request: Request) -> Response:
        repo, mode, err = self._repo_for(request, "issue", write=True)
        if err:
            return err
        form, err = self._form(request, "CreateIssueOption")
        if err:
            return err
        title, body, labels = form.get("title"), form.get("body", ""), form.get("labels") or []
        if title is not None and not isinstance(title, str):
            return self._error(
                422, "[]: json: cannot unmarshal into Go struct field CreateIssueOption.title of type string"
            )
        if not isinstance(body, str):
            return self._error(
                422, "[]: json: cannot unmarshal into Go struct field CreateIssueOption.body of type string"
            )
        if not isinstance(labels, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in labels):
            bad = next((x for x in labels if not isinstance(x, int) or isinstance(x, bool)), labels)
            return self._error(
                422,
                f"[]: json: cannot unmarshal {type(bad).__name__} into Go struct field "
                "CreateIssueOption.labels of type int64",
            )
        if not title or not title.strip():
            return self._error(422, "[Title]: Required")
        if len(title) > 255:
            return self._error(422, "[Title]: MaxSize")
        if mode < WRITE:
            labels = []  # "setting labels is not allowed if user is not a writer"
        valid = [label_id for label_id in labels if label_id in repo.labels]  # "Silently drop invalid labels"
        issue = self._new_issue(repo, title, body, request.user.login, valid)  # type: ignore[attr-defined]
        if form.get("closed") is True:
            issue.state, issue.closed = "closed", issue.updated
        return Response(201, self._issue_json(repo, issue))

    def _get_issue(self, request: Request) -> Response:
        repo, _mode, err = self._repo_for(request, "issue", write=False)
        if err:
            return err
        issue = self._issue_for(request, repo)
        if issue is None:
            return self._not_found()
        return Response(200, self._issue_json(repo, issue))

    def _edit_issue(self, request: Request) -> Response:
        repo, mode, err = self._repo_for(request, "issue", write=True)
        if err:
            return err
        issue = self._issue_for(request, repo)
        if issue is None:
            return self._not_found()
        form, err = self._form(request, "EditIssueOption")
        if err:
            return err
        if issue.user.lower() != request.user.login.lower() and mode < WRITE:  # type: ignore[attr-defined]
            return self._error(403, "user should have permission to edit issue")
        if isinstance(form.get("title"), str) and form["title"]:
            issue.title = form["title"]
        if isinstance(form.get("body"), str):
            issue.body = form["body"]
        state = form.get("state")
        if isinstance(state, str):
            closing = state == "closed"
            if closing and issue.state != "closed":
                issue.state, issue.closed = "closed", self._now()
            elif not closing and issue.state == "closed":
                issue.state, issue.closed = "open", None
        self._touch(issue)
        return Response(201, self._issue_json(repo, issue))

    def _list_comments(self, request: Request) -> Response:
        repo, _mode, err = self._repo_for(request, "issue", write=False)
        if err:
            return err
        issue = self._issue_for(request, repo)
        if issue is None:
            return self._not_found()
        return Response(200, [self._comment_json(repo, issue, c) for c in issue.comments])

    def _create_comment(self, request: Request) -> Response:
        repo, mode, err = self._repo_for(request, "issue", write=True)
        if err:
            return err
        issue = self._issue_for(request, repo)
        if issue is None:
            return self._not_found()
        form, err = self._form(request, "CreateIssueCommentOption")
        if err:
            return err
        body = form.get("body")
        if not isinstance(body, str) or not body.strip():
            return self._error(422, "[Body]: Required")
        if issue.is_locked and mode < WRITE:
            return self._error(403, "IssueLocked")
        now = self._now()
        comment = FakeComment(next(self._ids), request.user.login, body, now, now)  # type: ignore[attr-defined]
        issue.comments.append(comment)
        self._touch(issue)
        return Response(201, self._comment_json(repo, issue, comment))

    def _get_issue_labels(self, request: Request) -> Response:
        repo, _mode, err = self._repo_for(request, "issue", write=False)
        if err:
            return err
        issue = self._issue_for(request, repo)
        if issue is None:
            return self._not_found()
        return Response(200, [self._label_json(repo, repo.labels[i]) for i in issue.labels if i in repo.labels])

    def _add_issue_labels(self, request: Request) -> Response:
        repo, mode, err = self._repo_for(request, "issue", write=True)
        if err:
            return err
        issue = self._issue_for(request, repo)
        if issue is None:
            return self._not_found()
        if mode < WRITE:
            return self._error(403, "user should have a permission to write to a repo")
        form, err = self._form(request, "IssueLabelsOption")
        if err:
            return err
        labels = form.get("labels") or []
        if not isinstance(labels, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in labels):
            return self._error(
                422, "[]: json: cannot unmarshal into Go struct field IssueLabelsOption.labels of type int64"
            )
        valid = [label_id for label_id in labels if label_id in repo.labels]
        issue.labels = sorted(set(issue.labels) | set(valid))
        self._touch(issue)
        return Response(200, [self._label_json(repo, repo.labels[i]) for i in issue.labels])

    def _remove_issue_label(self, request: Request) -> Response:
        repo, mode, err = self._repo_for(request, "issue", write=True)
        if err:
            return err
        issue = self._issue_for(request, repo)
        if issue is None:
            return self._not_found()
        if mode < WRITE:
            return self._error(403, "user should have a permission to write to a repo")
        label_id = int(request.params["id"]) if request.params["id"].isdigit() else 0
        if label_id not in repo.labels:
            return self._error(422, f"label does not exist [label_id: {label_id}]")
        if label_id in issue.labels:
            issue.labels.remove(label_id)
            self._touch(issue)
        return Response(204)

    def _list_labels(self, request: Request) -> Response:
        repo, _mode, err = self._repo_for(request, "issue", write=False)
        if err:
            return err
        labels = sorted(repo.labels.values(), key=lambda lab: (lab.name.lower(), lab.id))
        page, headers = self._page(request, labels)
        headers.pop("Link", None)  # ListLabels sets only the total count header
        return Response(200, [self._label_json(repo, lab) for lab in page], headers)

    def _create_label(self, request: Request) -> Response:
        repo, mode, err = self._repo_for(request, "issue", write=True)
        if err:
            return err
        if mode < WRITE:
            return self._error(403, "user should have a permission to write to a repo")
        form, err = self._form(request, "CreateLabelOption")
        if err:
            return err
        name, color = form.get("name"), form.get("color")
        if not isinstance(name, str) or not name:
            return self._error(422, "[Name]: Required")
        if not isinstance(color, str) or not color:
            return self._error(422, "[Color]: Required")
        normalized = _normalize_color(color)
        if normalized is None:
            return self._error(422, f"invalid color format: {color}")
        description = form.get("description") or ""
        # No uniqueness check on the name: Gitea makes a second label with the same name.
        label = FakeLabel(
            next(self._ids),
            name,
            normalized,
            description if isinstance(description, str) else "",
            bool(form.get("exclusive")),
            bool(form.get("is_archived")),
        )
        repo.labels[label.id] = label
        return Response(201, self._label_json(repo, label))


def _normalize_color(color: str) -> str | None:
    """modules/label NormalizeColor: optional '#', 3 or 6 hex digits; stored as lower-case #rrggbb."""
    if not _COLOR.match(color):
        return None
    digits = color.lstrip("#").lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits
