"""A fake GitHub that speaks the documented REST API (v3), so PyGithub works against it unchanged.

Written from GitHub's REST documentation, not from what our adapter sends:

- Issues (create, get, update, list): https://docs.github.com/en/rest/issues/issues
  "Any user with pull access to a repository can create an issue. If issues are disabled in the repository, the
  API returns a 410 Gone status." Labels: "Only users with push access can set labels for new issues. Labels are
  silently dropped otherwise." Update: `state_reason` is "The reason for the state change. Ignored unless `state`
  is changed." List: `state` open/closed/all, `labels` comma separated, `sort` created/updated/comments,
  `direction`, `since` ("Only show results that were last updated after the given time"), `per_page` (max 100).
  Issues endpoints also return pull requests, recognisable by their `pull_request` key.
- Comments: https://docs.github.com/en/rest/issues/comments ; labels: https://docs.github.com/en/rest/issues/labels
- Search: https://docs.github.com/en/rest/search/search (30 requests a minute; the index lags behind writes).
- Pagination: https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api (`link` header
  with rel prev/next/last/first, omitted when everything fits on one page).
- Rate limits: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api (x-ratelimit-limit,
  -remaining, -used, -reset, -resource on every response; primary limit exceeded: 403 or 429 with
  x-ratelimit-remaining 0; secondary limit: 403 or 429 with a message saying so and, when present, retry-after;
  at most 80 content-generating requests a minute and 500 an hour).
- Errors: 401 {"message": "Bad credentials"}; 404 {"message": "Not Found"} for a repository the token cannot see
  (https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api); 422 {"message": "Validation
  Failed", "errors": [{"resource", "field", "code", "message"}]}; title at most 256 and body at most 65,536
  characters ("title is too long (maximum is 256 characters)").

Both https://api.github.com style paths ("/repos/...") and GitHub Enterprise Server paths ("/api/v3/repos/...")
are served. Set it up from a test:

    FakeGitHub(tokens={"tok": {"login": "bot", "repos": {"acme/app": "write"}}})

A token's role per repository is one of read, triage, write, maintain, admin (the `permissions` object of the
repository follows from it); a repository no token lists does not exist. `add_repo(...)` changes a repository
(has_issues, private, archived); `add_issue(...)` seeds issues and pull requests.

Knobs: `search_lag` (seconds before a new issue is found by search), `rate_limit` (primary, per token and hour),
`search_rate_limit` (per minute), `creation_limit_per_minute` / `creation_limit_per_hour` (secondary limit on
content creation), `rate_limit_status` / `secondary_limit_status` (403 or 429). The clock is `clock()` plus an
offset moved by `advance(seconds)`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from .base import FakeServer, Request, Response

ROLES = ("read", "triage", "write", "maintain", "admin")
DOCS = "https://docs.github.com/rest"
MAX_TITLE = 256
MAX_BODY = 65536
CLOSE_REASONS = ("completed", "not_planned", "duplicate")
STATE_REASONS = (*CLOSE_REASONS, "reopened")
PREFIX = r"(?P<prefix>(?:/api/v3)?)"
REPO = PREFIX + r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"

Caller = dict[str, Any]  # a token's record: login, id, repos, scopes


def iso(ts: float | None) -> str | None:
    """GitHub's timestamps: ISO 8601, UTC, whole seconds, with a Z."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def error(status: int, message: str, doc: str = "", **extra: Any) -> Response:
    return Response(status, {"message": message, "documentation_url": f"{DOCS}{doc}", "status": str(status), **extra})


def validation_failed(resource: str, field_name: str, code: str, message: str = "", doc: str = "") -> Response:
    item = {"resource": resource, "field": field_name, "code": code}
    if message:
        item["message"] = message
    return error(422, "Validation Failed", doc, errors=[item])


@dataclass
class FakeRepo:
    owner: str
    name: str
    id: int
    private: bool = True
    has_issues: bool = True
    archived: bool = False
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> stored issue
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-cased name -> label
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class _Bucket:
    limit: int
    window: float
    used: int = 0
    reset: float = 0.0


class FakeGitHub(FakeServer):
    def __init__(
        self,
        tokens: dict[str, dict[str, Any]] | None = None,
        *,
        search_lag: float = 0.0,
        rate_limit: int = 5000,
        search_rate_limit: int = 30,
        creation_limit_per_minute: int | None = None,
        creation_limit_per_hour: int | None = None,
        rate_limit_status: int = 403,
        secondary_limit_status: int = 403,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.search_lag = search_lag
        self.rate_limit = rate_limit
        self.search_rate_limit = search_rate_limit
        self.creation_limit_per_minute = creation_limit_per_minute
        self.creation_limit_per_hour = creation_limit_per_hour
        self.rate_limit_status = rate_limit_status
        self.secondary_limit_status = secondary_limit_status
        self.clock = clock
        self._offset = 0.0
        self._ids = 1000
        self.repos: dict[str, FakeRepo] = {}
        self.tokens: dict[str, Caller] = {}
        self.users: dict[str, int] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._creations: dict[str, list[float]] = {}
        self._request_ids = 0
        super().__init__(host, port)
        for token, spec in (tokens or {}).items():
            self.add_token(token, spec.get("login", "certifai-bot"), spec.get("repos", {}), spec.get("scopes"))

    # --- set-up from tests ------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock (search lag, rate-limit windows) without sleeping."""
        with self.lock:
            self._offset += seconds

    def add_token(
        self, token: str, login: str, repos: dict[str, str] | None = None, scopes: list[str] | None = None
    ) -> None:
        with self.lock:
            for full_name, role in (repos or {}).items():
                if role not in ROLES:
                    raise ValueError(f"role must be one of {ROLES}, not {role!r}")
                if full_name.lower() not in self.repos:
                    self.add_repo(full_name)
            self.tokens[token] = {"login": login, "id": self._user_id(login), "repos": dict(repos or {}),
                                  "scopes": scopes}

    def add_repo(
        self, full_name: str, *, private: bool = True, has_issues: bool = True, archived: bool = False
    ) -> FakeRepo:
        with self.lock:
            repo = self.repos.get(full_name.lower())
            if repo is None:
                owner, name = full_name.split("/")
                repo = FakeRepo(owner, name, self._next_id())
                self.repos[full_name.lower()] = repo
            repo.private, repo.has_issues, repo.archived = private, has_issues, archived
            return repo

    def add_issue(
        self,
        full_name: str,
        title: str,
        body: str = "",
        *,
        labels: tuple[str, ...] | list[str] = (),
        state: str = "open",
        state_reason: str | None = None,
        user: str = "someone",
        created: float | None = None,
        pull_request: bool = False,
        comments: tuple[str, ...] | list[str] = (),
    ) -> int:
        """Seed an issue (or, with pull_request=True, a pull request) as if made earlier; returns its number."""
        with self.lock:
            repo = self.repos[full_name.lower()]
            ts = self.now() if created is None else created
            issue = self._new_issue(repo, title, body, user, ts)
            for name in labels:
                issue["labels"].append(self._label(repo, name)["name"])
            issue["pull_request"] = pull_request
            if state == "closed":
                issue.update(state="closed", state_reason=state_reason or "completed", closed_ts=ts, closed_by=user)
            for text in comments:
                issue["comments"].append(self._new_comment(text, user, ts))
            return issue["number"]

    def issue(self, full_name: str, number: int, prefix: str = "") -> dict[str, Any]:
        """An issue as the API shows it."""
        with self.lock:
            repo = self.repos[full_name.lower()]
            return self._issue_json(repo, repo.issues[number], prefix)

    def issue_count(self, full_name: str) -> int:
        with self.lock:
            issues = self.repos[full_name.lower()].issues.values()
            return sum(not i["pull_request"] and not i.get("deleted") for i in issues)

    def comments_of(self, full_name: str, number: int) -> list[str]:
        with self.lock:
            return [c["body"] for c in self.repos[full_name.lower()].issues[number]["comments"]]

    def labels_of(self, full_name: str) -> list[str]:
        with self.lock:
            return [label["name"] for label in self.repos[full_name.lower()].labels.values()]

    def delete_issue(self, full_name: str, number: int) -> None:
        """GitHub answers 410 Gone for a deleted issue and leaves it out of lists."""
        with self.lock:
            self.repos[full_name.lower()].issues[number]["deleted"] = True

    def set_remaining(self, token: str, remaining: int, resource: str = "core") -> None:
        """Use up part of a token's primary rate limit."""
        with self.lock:
            bucket = self._bucket(token, resource)
            bucket.used = max(0, bucket.limit - remaining)

    # --- routing ------------------------------------------------------------------------------------

    def setup_routes(self) -> None:
        api = self._api
        self.route("GET", PREFIX + r"/user", api(self.get_user))
        self.route("GET", PREFIX + r"/rate_limit", api(self.get_rate_limit, counts=False))
        self.route("GET", REPO, api(self.get_repo))
        self.route("GET", REPO + r"/issues", api(self.list_issues))
        self.route("POST", REPO + r"/issues", api(self.create_issue, creates=True))
        self.route("GET", REPO + r"/issues/(?P<number>\d+)", api(self.get_issue))
        self.route("PATCH", REPO + r"/issues/(?P<number>\d+)", api(self.update_issue))
        self.route("GET", REPO + r"/issues/(?P<number>\d+)/comments", api(self.list_comments))
        self.route("POST", REPO + r"/issues/(?P<number>\d+)/comments", api(self.create_comment, creates=True))
        self.route("GET", REPO + r"/labels", api(self.list_labels))
        self.route("POST", REPO + r"/labels", api(self.create_label, creates=True))
        self.route("GET", PREFIX + r"/search/issues", api(self.search_issues, resource="search"))
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):  # unknown paths: still a proper GitHub answer
            self.route(method, r"(?P<prefix>(?:/api/v3)?).*", api(lambda request, caller: error(404, "Not Found")))

    def _api(
        self,
        handler: Callable[[Request, Caller | None], Response],
        resource: str = "core",
        creates: bool = False,
        counts: bool = True,
    ) -> Callable[[Request], Response]:
        """User-Agent, authentication, primary and secondary rate limits, headers on every answer."""

        def serve(request: Request) -> Response:
            now = self.now()
            self._request_ids += 1
            request_id = f"F{self._request_ids:04X}:{self._request_ids * 7919 % 65536:04X}"
            if not request.headers.get("user-agent"):
                response = error(403, "Request forbidden by administrative rules. Please make sure your request has "
                                      "a User-Agent header", "/using-the-rest-api/getting-started-with-the-rest-api")
                return self._finish(response, None, request_id)
            token = self._token_of(request)
            caller = self.tokens.get(token) if token else None
            key = token if caller else f"anonymous:{request.headers.get('x-forwarded-for', '127.0.0.1')}"
            if token and caller is None:
                bucket = self._bucket(key, "core", limit=60)
                self._consume(bucket, now)
                return self._finish(error(401, "Bad credentials"), (bucket, "core"), request_id)
            bucket = self._bucket(key, resource, limit=None if caller else (60 if resource == "core" else 10))
            self._roll(bucket, now)
            if counts and bucket.used >= bucket.limit:
                who = f"user ID {caller['id']}" if caller else "127.0.0.1"
                response = error(self.rate_limit_status, f"API rate limit exceeded for {who}. If you reach out to "
                                 f"GitHub Support for help, please include the request ID {request_id}.",
                                 "/using-the-rest-api/rate-limits-for-the-rest-api")
                return self._finish(response, (bucket, resource), request_id)
            if counts:
                bucket.used += 1
            if creates and caller is not None:
                wait = self._creation_wait(key, now)
                if wait is not None:
                    response = error(self.secondary_limit_status, "You have exceeded a secondary rate limit. Please "
                                     "wait a few minutes before you try again. If you reach out to GitHub Support for "
                                     f"help, please include the request ID {request_id}.",
                                     "/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits")
                    response.headers["retry-after"] = str(wait)
                    return self._finish(response, (bucket, resource), request_id)
            try:
                response = handler(request, caller)
            except ValueError:
                response = error(400, "Problems parsing JSON")
            if creates and caller is not None and response.status in (200, 201):
                self._creations.setdefault(key, []).append(now)
            if caller and caller.get("scopes") is not None:
                response.headers["x-oauth-scopes"] = ", ".join(caller["scopes"])
            return self._finish(response, (bucket, resource), request_id)

        return serve

    def _finish(self, response: Response, bucket: tuple[_Bucket, str] | None, request_id: str) -> Response:
        if bucket is not None:
            limit, resource = bucket
            response.headers.update({
                "x-ratelimit-limit": str(limit.limit),
                "x-ratelimit-remaining": str(max(0, limit.limit - limit.used)),
                "x-ratelimit-used": str(limit.used),
                "x-ratelimit-reset": str(math.ceil(limit.reset)),
                "x-ratelimit-resource": resource,
            })
        response.headers["x-github-request-id"] = request_id
        response.headers.setdefault("x-github-media-type", "github.v3; format=json")
        return response

    @staticmethod
    def _token_of(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("bearer", "token") and value.strip():
            return value.strip()
        return header or None  # anything else is a credential GitHub won't accept

    def _bucket(self, key: str, resource: str, limit: int | None = None) -> _Bucket:
        bucket = self._buckets.get((key, resource))
        if bucket is None:
            if resource == "search":
                bucket = _Bucket(limit or self.search_rate_limit, 60.0)
            else:
                bucket = _Bucket(limit or self.rate_limit, 3600.0)
            bucket.reset = self.now() + bucket.window
            self._buckets[(key, resource)] = bucket
        return bucket

    @staticmethod
    def _roll(bucket: _Bucket, now: float) -> None:
        if now >= bucket.reset:
            bucket.used, bucket.reset = 0, now + bucket.window

    def _consume(self, bucket: _Bucket, now: float) -> None:
        self._roll(bucket, now)
        bucket.used = min(bucket.limit, bucket.used + 1)

    def _creation_wait(self, key: str, now: float) -> int | None:
        """Seconds to wait when a secondary content-creation limit is reached, else None."""
        times = [t for t in self._creations.get(key, []) if t > now - 3600]
        self._creations[key] = times
        for limit, window in ((self.creation_limit_per_minute, 60), (self.creation_limit_per_hour, 3600)):
            recent = [t for t in times if t > now - window]
            if limit is not None and len(recent) >= limit:
                return max(1, math.ceil(recent[-limit] + window - now))
        return None

    # --- permissions ------------------------------------------------------------------------------------

    def _role(self, caller: Caller | None, repo: FakeRepo) -> str | None:
        role = None
        if caller is not None:
            for full_name, value in caller["repos"].items():
                if full_name.lower() == repo.full_name.lower():
                    role = value
            scopes = caller.get("scopes")
            if role and scopes is not None and repo.private and "repo" not in scopes:
                role = None  # a classic token without the repo scope can't see private repositories
        if role is None and not repo.private:
            role = "read"
        return role

    @staticmethod
    def _at_least(role: str | None, wanted: str) -> bool:
        return role is not None and ROLES.index(role) >= ROLES.index(wanted)

    def _visible_repo(self, request: Request, caller: Caller | None) -> tuple[FakeRepo | None, str | None]:
        repo = self.repos.get(f"{request.params['owner']}/{request.params['repo']}".lower())
        if repo is None:
            return None, None
        role = self._role(caller, repo)
        return (repo, role) if role else (None, None)

    # --- JSON shapes -------------------------------------------------------------------------------------

    def _api_base(self, prefix: str) -> str:
        return f"{self.url}{prefix}"

    def _user_id(self, login: str) -> int:
        if login not in self.users:
            self.users[login] = self._next_id()
        return self.users[login]

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _user_json(self, login: str, prefix: str) -> dict[str, Any]:
        uid = self._user_id(login)
        return {
            "login": login, "id": uid, "node_id": f"U_{uid:08x}", "type": "User", "site_admin": False,
            "url": f"{self._api_base(prefix)}/users/{login}", "html_url": f"{self.url}/{login}",
            "avatar_url": f"{self.url}/avatars/{login}",
        }

    def _label(self, repo: FakeRepo, name: str, color: str = "ededed", description: str | None = None) -> dict:
        label = repo.labels.get(name.lower())
        if label is None:
            lid = self._next_id()
            label = {"id": lid, "node_id": f"LA_{lid:08x}", "name": name, "color": color,
                     "description": description, "default": False}
            repo.labels[name.lower()] = label
        return label

    def _label_json(self, repo: FakeRepo, name: str, prefix: str) -> dict[str, Any]:
        label = dict(repo.labels[name.lower()])
        label["url"] = f"{self._api_base(prefix)}/repos/{repo.full_name}/labels/{label['name']}"
        return label

    def _repo_json(self, repo: FakeRepo, role: str | None, prefix: str) -> dict[str, Any]:
        base = f"{self._api_base(prefix)}/repos/{repo.full_name}"
        data = {
            "id": repo.id, "node_id": f"R_{repo.id:08x}", "name": repo.name, "full_name": repo.full_name,
            "private": repo.private, "visibility": "private" if repo.private else "public",
            "owner": self._user_json(repo.owner, prefix), "html_url": f"{self.url}/{repo.full_name}",
            "url": base, "issues_url": f"{base}/issues{{/number}}", "labels_url": f"{base}/labels{{/name}}",
            "has_issues": repo.has_issues, "archived": repo.archived, "disabled": False, "default_branch": "main",
            "open_issues_count": sum(i["state"] == "open" for i in repo.issues.values()),
        }
        if role is not None:
            data["permissions"] = {name: self._at_least(role, name) for name in ("admin", "maintain", "triage")}
            data["permissions"]["push"] = self._at_least(role, "write")
            data["permissions"]["pull"] = True
        return data

    def _new_issue(self, repo: FakeRepo, title: str, body: str | None, login: str, ts: float) -> dict[str, Any]:
        number = repo.next_number
        repo.next_number += 1
        issue = {
            "number": number, "id": self._next_id(), "title": title, "body": body, "user": login,
            "labels": [], "state": "open", "state_reason": None, "created_ts": ts, "updated_ts": ts,
            "closed_ts": None, "closed_by": None, "comments": [], "pull_request": False, "locked": False,
        }
        repo.issues[number] = issue
        return issue

    def _new_comment(self, body: str, login: str, ts: float) -> dict[str, Any]:
        return {"id": self._next_id(), "body": body, "user": login, "created_ts": ts, "updated_ts": ts}

    def _issue_json(self, repo: FakeRepo, issue: dict[str, Any], prefix: str) -> dict[str, Any]:
        base = f"{self._api_base(prefix)}/repos/{repo.full_name}"
        kind = "pull" if issue["pull_request"] else "issues"
        data = {
            "id": issue["id"], "node_id": f"I_{issue['id']:08x}", "number": issue["number"],
            "url": f"{base}/issues/{issue['number']}", "repository_url": base,
            "labels_url": f"{base}/issues/{issue['number']}/labels{{/name}}",
            "comments_url": f"{base}/issues/{issue['number']}/comments",
            "events_url": f"{base}/issues/{issue['number']}/events",
            "html_url": f"{self.url}/{repo.full_name}/{kind}/{issue['number']}",
            "title": issue["title"], "body": issue["body"], "state": issue["state"],
            "state_reason": issue["state_reason"], "locked": issue["locked"], "active_lock_reason": None,
            "user": self._user_json(issue["user"], prefix),
            "labels": [self._label_json(repo, name, prefix) for name in issue["labels"]],
            "assignee": None, "assignees": [], "milestone": None, "comments": len(issue["comments"]),
            "created_at": iso(issue["created_ts"]), "updated_at": iso(issue["updated_ts"]),
            "closed_at": iso(issue["closed_ts"]),
            "closed_by": self._user_json(issue["closed_by"], prefix) if issue["closed_by"] else None,
            "author_association": "NONE",
        }
        if issue["pull_request"]:
            data["pull_request"] = {"url": f"{base}/pulls/{issue['number']}",
                                    "html_url": f"{self.url}/{repo.full_name}/pull/{issue['number']}"}
        return data

    def _comment_json(self, repo: FakeRepo, issue: dict, comment: dict, prefix: str) -> dict[str, Any]:
        base = f"{self._api_base(prefix)}/repos/{repo.full_name}"
        return {
            "id": comment["id"], "node_id": f"IC_{comment['id']:08x}", "body": comment["body"],
            "url": f"{base}/issues/comments/{comment['id']}",
            "html_url": f"{self.url}/{repo.full_name}/issues/{issue['number']}#issuecomment-{comment['id']}",
            "issue_url": f"{base}/issues/{issue['number']}", "user": self._user_json(comment["user"], prefix),
            "created_at": iso(comment["created_ts"]), "updated_at": iso(comment["updated_ts"]),
            "author_association": "NONE",
        }

    def _paginate(self, request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """Slice by page/per_page (default 30, max 100) and build the `link` header as GitHub does."""
        try:
            per_page = min(100, max(1, int(request.arg("per_page") or 30)))
        except ValueError:
            per_page = 30
        try:
            page = max(1, int(request.arg("page") or 1))
        except ValueError:
            page = 1
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        if last == 1 and page == 1:
            return chunk, {}

        def url(number: int) -> str:
            query = {k: v for k, v in request.query.items() if k != "page"}
            query["page"] = [str(number)]
            return f"{self.url}{request.path}?{urlencode(query, doseq=True)}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return chunk, {"link": ", ".join(links)}

    # --- endpoints --------------------------------------------------------------------------------------

    def get_user(self, request: Request, caller: Caller | None) -> Response:
        if caller is None:
            return error(401, "Requires authentication", "/users/users#get-the-authenticated-user")
        return Response(200, {**self._user_json(caller["login"], request.params["prefix"]), "name": caller["login"]})

    def get_rate_limit(self, request: Request, caller: Caller | None) -> Response:
        key = self._token_of(request) if caller else "anonymous:127.0.0.1"
        resources = {}
        for resource in ("core", "search"):
            bucket = self._bucket(key or "anonymous:127.0.0.1", resource)
            self._roll(bucket, self.now())
            resources[resource] = {"limit": bucket.limit, "remaining": max(0, bucket.limit - bucket.used),
                                   "used": bucket.used, "reset": math.ceil(bucket.reset), "resource": resource}
        return Response(200, {"resources": resources, "rate": resources["core"]})

    def get_repo(self, request: Request, caller: Caller | None) -> Response:
        repo, role = self._visible_repo(request, caller)
        if repo is None:
            return error(404, "Not Found", "/repos/repos#get-a-repository")
        return Response(200, self._repo_json(repo, role if caller else None, request.params["prefix"]))

    def create_issue(self, request: Request, caller: Caller | None) -> Response:
        doc = "/issues/issues#create-an-issue"
        if caller is None:
            return error(401, "Requires authentication", doc)
        repo, role = self._visible_repo(request, caller)
        if repo is None:
            return error(404, "Not Found", doc)
        if not repo.has_issues:
            return error(410, "Issues are disabled for this repo", doc)
        if repo.archived:
            return error(403, "Repository was archived so is read-only.", doc)
        data = request.json()
        title, body = data.get("title"), data.get("body")
        if title is None or (isinstance(title, str) and not title.strip()):
            return validation_failed("Issue", "title", "missing_field", doc=doc)
        title = str(title)
        if len(title) > MAX_TITLE:
            return validation_failed("Issue", "title", "custom", f"title is too long (maximum is {MAX_TITLE} "
                                     "characters)", doc)
        if body is not None and len(body) > MAX_BODY:
            return validation_failed("Issue", "body", "custom", f"body is too long (maximum is {MAX_BODY} "
                                     "characters)", doc)
        issue = self._new_issue(repo, title, body, caller["login"], self.now())
        if self._at_least(role, "write"):  # "Labels are silently dropped otherwise."
            self._set_labels(repo, issue, data.get("labels") or [])
        response = Response(201, self._issue_json(repo, issue, request.params["prefix"]))
        response.headers["location"] = response.body["url"]
        return response

    def _set_labels(self, repo: FakeRepo, issue: dict[str, Any], labels: list[Any]) -> None:
        names: list[str] = []
        for item in labels:
            name = item.get("name") if isinstance(item, dict) else str(item)
            if name and name.lower() not in {n.lower() for n in names}:
                names.append(self._label(repo, name)["name"])  # unknown names become new labels
        issue["labels"] = names

    def _find_issue(self, request: Request, caller: Caller | None) -> tuple[FakeRepo | None, str | None, dict | None]:
        repo, role = self._visible_repo(request, caller)
        if repo is None:
            return None, None, None
        return repo, role, repo.issues.get(int(request.params["number"]))

    def get_issue(self, request: Request, caller: Caller | None) -> Response:
        repo, _, issue = self._find_issue(request, caller)
        if repo is None or issue is None:
            return error(404, "Not Found", "/issues/issues#get-an-issue")
        if issue.get("deleted"):
            return error(410, "This issue was deleted", "/issues/issues#get-an-issue")
        return Response(200, self._issue_json(repo, issue, request.params["prefix"]))

    def update_issue(self, request: Request, caller: Caller | None) -> Response:
        doc = "/issues/issues#update-an-issue"
        if caller is None:
            return error(401, "Requires authentication", doc)
        repo, role, issue = self._find_issue(request, caller)
        if repo is None or issue is None:
            return error(404, "Not Found", doc)
        # "Issue owners and users with push access or Triage role can edit an issue."
        if not (self._at_least(role, "triage") or issue["user"] == caller["login"]):
            return error(403, "Must have push access or the triage role to update this issue.", doc)
        if repo.archived:
            return error(403, "Repository was archived so is read-only.", doc)
        data = request.json()
        changed = False
        if "title" in data:
            title = data["title"]
            if not title:
                return validation_failed("Issue", "title", "missing_field", doc=doc)
            if len(str(title)) > MAX_TITLE:
                return validation_failed("Issue", "title", "custom", f"title is too long (maximum is {MAX_TITLE} "
                                         "characters)", doc)
            issue["title"], changed = str(title), True
        if "body" in data:
            if data["body"] is not None and len(data["body"]) > MAX_BODY:
                return validation_failed("Issue", "body", "custom", f"body is too long (maximum is {MAX_BODY} "
                                         "characters)", doc)
            issue["body"], changed = data["body"], True
        state, reason = data.get("state"), data.get("state_reason")
        if state is not None and state not in ("open", "closed"):
            return validation_failed("Issue", "state", "invalid", doc=doc)
        if reason is not None and reason not in STATE_REASONS:
            return validation_failed("Issue", "state_reason", "invalid", doc=doc)
        if state is not None and state != issue["state"]:  # "Ignored unless `state` is changed."
            now = self.now()
            if state == "closed":
                if reason == "reopened":
                    return validation_failed("Issue", "state_reason", "invalid", doc=doc)
                issue.update(state="closed", state_reason=reason or "completed", closed_ts=now,
                             closed_by=caller["login"])
            else:
                issue.update(state="open", state_reason="reopened", closed_ts=None, closed_by=None)
            changed = True
        if "labels" in data and self._at_least(role, "write"):  # label changes silently dropped otherwise
            self._set_labels(repo, issue, data["labels"] or [])
            changed = True
        if changed:
            issue["updated_ts"] = self.now()
        return Response(200, self._issue_json(repo, issue, request.params["prefix"]))

    def list_issues(self, request: Request, caller: Caller | None) -> Response:
        doc = "/issues/issues#list-repository-issues"
        repo, _ = self._visible_repo(request, caller)
        if repo is None:
            return error(404, "Not Found", doc)
        state = request.arg("state", "open")
        sort = request.arg("sort", "created")
        direction = request.arg("direction", "desc")
        if state not in ("open", "closed", "all"):
            return validation_failed("Issue", "state", "invalid", doc=doc)
        if sort not in ("created", "updated", "comments") or direction not in ("asc", "desc"):
            return validation_failed("Issue", "sort" if sort not in ("created", "updated", "comments")
                                     else "direction", "invalid", doc=doc)
        since = None
        if request.arg("since"):
            try:
                since = parse_iso(request.arg("since") or "")
            except ValueError:
                return validation_failed("Issue", "since", "invalid", doc=doc)
        wanted = [name.strip().lower() for name in (request.arg("labels") or "").split(",") if name.strip()]
        items = []
        for issue in repo.issues.values():
            if issue.get("deleted") or (state != "all" and issue["state"] != state):
                continue
            if since is not None and int(issue["updated_ts"]) < since:
                continue
            have = {name.lower() for name in issue["labels"]}
            if any(name not in have for name in wanted):  # every listed label must be on the issue
                continue
            items.append(issue)
        key = {"created": lambda i: (i["created_ts"], i["number"]), "updated": lambda i: (i["updated_ts"], i["number"]),
               "comments": lambda i: (len(i["comments"]), i["number"])}[sort]
        items.sort(key=key, reverse=direction == "desc")
        page, headers = self._paginate(request, items)
        return Response(200, [self._issue_json(repo, i, request.params["prefix"]) for i in page], headers)

    def list_comments(self, request: Request, caller: Caller | None) -> Response:
        repo, _, issue = self._find_issue(request, caller)
        if repo is None or issue is None:
            return error(404, "Not Found", "/issues/comments#list-issue-comments")
        page, headers = self._paginate(request, issue["comments"])
        prefix = request.params["prefix"]
        return Response(200, [self._comment_json(repo, issue, c, prefix) for c in page], headers)

    def create_comment(self, request: Request, caller: Caller | None) -> Response:
        doc = "/issues/comments#create-an-issue-comment"
        if caller is None:
            return error(401, "Requires authentication", doc)
        repo, _, issue = self._find_issue(request, caller)
        if repo is None or issue is None:
            return error(404, "Not Found", doc)
        if repo.archived:
            return error(403, "Repository was archived so is read-only.", doc)
        body = request.json().get("body")
        if not body:
            return validation_failed("IssueComment", "body", "missing_field", doc=doc)
        if len(body) > MAX_BODY:
            return validation_failed("IssueComment", "data", "unprocessable",
                                     f"Body is too long (maximum is {MAX_BODY} characters)", doc)
        now = self.now()
        comment = self._new_comment(body, caller["login"], now)
        issue["comments"].append(comment)
        issue["updated_ts"] = now
        return Response(201, self._comment_json(repo, issue, comment, request.params["prefix"]))

    def list_labels(self, request: Request, caller: Caller | None) -> Response:
        repo, _ = self._visible_repo(request, caller)
        if repo is None:
            return error(404, "Not Found", "/issues/labels#list-labels-for-a-repository")
        page, headers = self._paginate(request, list(repo.labels.values()))
        prefix = request.params["prefix"]
        return Response(200, [self._label_json(repo, label["name"], prefix) for label in page], headers)

    def create_label(self, request: Request, caller: Caller | None) -> Response:
        doc = "/issues/labels#create-a-label"
        if caller is None:
            return error(401, "Requires authentication", doc)
        repo, role = self._visible_repo(request, caller)
        if repo is None:
            return error(404, "Not Found", doc)
        if not self._at_least(role, "write"):
            return error(403, "Must have admin rights to Repository.", doc)
        data = request.json()
        name = data.get("name")
        if not name:
            return validation_failed("Label", "name", "missing_field", doc=doc)
        if name.lower() in repo.labels:
            return validation_failed("Label", "name", "already_exists", doc=doc)
        self._label(repo, name, str(data.get("color") or "ededed").lstrip("#"), data.get("description"))
        return Response(201, self._label_json(repo, name, request.params["prefix"]))

    # --- search ----------------------------------------------------------------------------------------

    _TOKEN = re.compile(r'(-)?([A-Za-z_]+):(?:"([^"]*)"|(\S+))|"([^"]*)"|(\S+)')

    def search_issues(self, request: Request, caller: Caller | None) -> Response:
        """GET /search/issues: repo:, is:issue/pr/open/closed, type:, state:, label:, in:title/body/comments,
        author:, and free text (words and "quoted phrases") matched case-insensitively. Issues created less than
        `search_lag` seconds ago are not indexed yet."""
        doc = "/search/search#search-issues-and-pull-requests"
        q = (request.arg("q") or "").strip()
        if not q:
            return validation_failed("Search", "q", "missing", doc=doc)
        filters: list[tuple[bool, str, str]] = []
        terms: list[str] = []
        fields = ["title", "body", "comments"]
        repos: list[FakeRepo] = []
        for match in self._TOKEN.finditer(q):
            negate, key, quoted, bare, phrase, word = match.groups()
            if key is not None:
                key, value = key.lower(), quoted if quoted is not None else bare
                if key == "repo":
                    repo = self.repos.get(value.lower())
                    if repo is None or not self._role(caller, repo):
                        return error(422, "Validation Failed", doc, errors=[{
                            "message": "The listed users and repositories cannot be searched either because the "
                                       "resources do not exist or you do not have permission to view them.",
                            "resource": "Search", "field": "q", "code": "invalid"}])
                    repos.append(repo)
                elif key == "in":
                    fields = [f for f in value.lower().split(",") if f in ("title", "body", "comments")] or fields
                elif key in ("is", "type", "state", "label", "author"):
                    filters.append((bool(negate), key, value))
                else:
                    terms.append(match.group(0))  # GitHub searches unknown qualifiers as text
            elif phrase is not None:
                terms.append(phrase)
            elif word not in ("AND", "OR", "NOT"):
                terms.append(word)
        if not repos:
            repos = [r for r in self.repos.values() if self._role(caller, r)]
        indexed_before = self.now() - self.search_lag
        found: list[tuple[FakeRepo, dict]] = []
        for repo in repos:
            for issue in repo.issues.values():
                if issue.get("deleted") or issue["created_ts"] > indexed_before:
                    continue
                if all(self._filter_ok(issue, *f) for f in filters) and self._terms_ok(issue, terms, fields):
                    found.append((repo, issue))
        sort, order = request.arg("sort"), request.arg("order", "desc")
        key_name = {"created": "created_ts", "updated": "updated_ts"}.get(sort or "", "updated_ts")
        if sort == "comments":
            found.sort(key=lambda pair: len(pair[1]["comments"]), reverse=order != "asc")
        else:
            found.sort(key=lambda pair: pair[1][key_name], reverse=order != "asc")
        page, headers = self._paginate(request, found)
        prefix = request.params["prefix"]
        items = [{**self._issue_json(repo, issue, prefix), "score": 1.0} for repo, issue in page]
        return Response(200, {"total_count": len(found), "incomplete_results": False, "items": items}, headers)

    @staticmethod
    def _filter_ok(issue: dict[str, Any], negate: bool, key: str, value: str) -> bool:
        value = value.lower()
        if key in ("is", "type"):
            if value in ("issue", "pr", "pull-request"):
                ok = issue["pull_request"] == (value != "issue")
            elif value in ("open", "closed"):
                ok = issue["state"] == value
            else:
                ok = True
        elif key == "state":
            ok = issue["state"] == value
        elif key == "label":
            ok = value in {name.lower() for name in issue["labels"]}
        else:  # author
            ok = issue["user"].lower() == value
        return ok != negate

    @staticmethod
    def _terms_ok(issue: dict[str, Any], terms: list[str], fields: list[str]) -> bool:
        texts = []
        if "title" in fields:
            texts.append(issue["title"] or "")
        if "body" in fields:
            texts.append(issue["body"] or "")
        if "comments" in fields:
            texts.extend(c["body"] for c in issue["comments"])
        haystack = "\n".join(texts).lower()
        return all(term.lower() in haystack for term in terms)
