"""A fake Jira (Cloud or Data Center) that speaks Jira's documented REST API, for the `jira` library to talk to.

Written from Atlassian's documentation, not from what Certifai sends:

- Cloud platform REST v3/v2 (https://developer.atlassian.com/cloud/jira/platform/rest/v3/): issues
  (`POST /issue`, `GET /issue/{key}`, transitions, comments: api-group-issues, api-group-issue-comments),
  `GET /issue/createmeta/{projectIdOrKey}/issuetypes[/{issueTypeId}]` (pages with `issueTypes` / `fields`),
  `GET /myself`, `GET /project/{key}`, `GET /mypermissions` (the `permissions` parameter is required on Cloud),
  `GET /priority`, `GET /resolution`, `GET /field`, `GET /serverInfo` (`deploymentType` "Cloud").
- Search (api-group-issue-search): `GET/POST /rest/api/3/search/jql` with `nextPageToken` / `isLast`, `fields`
  (none asked: only ids come back), bounded JQL only, "recent updates might not be immediately visible"
  (unless the issue is named in `reconcileIssues`). The old `GET/POST /rest/api/{2,3}/search` answers
  410 Gone, as Atlassian removed it (changelog CHANGE-2046).
- Rich text: v3 takes and returns Atlassian Document Format
  (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/); a plain string description on
  v3 gets 400 "Operation value must be an Atlassian Document". v2 and Data Center take wiki-markup strings.
  Text fields hold at most 32,767 characters.
- Data Center REST v2 (https://docs.atlassian.com/software/jira/docs/api/REST/latest/): personal access tokens as
  `Authorization: Bearer`, `GET/POST /rest/api/2/search` with `startAt`/`maxResults`/`total` and `validateQuery`
  (strict by default: a key that doesn't exist is a 400 "An issue with key 'X' does not exist for field 'key'.";
  `warn` turns that into `warningMessages`), createmeta pages with `values`, `deploymentType` "Server".
- Rate limiting: Cloud answers 429 with `Retry-After`, `X-RateLimit-Reset` (ISO 8601, yyyy-MM-ddTHH:mmZ) and
  `RateLimit-Reason` (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/); Data Center with
  `Retry-After`, `X-RateLimit-Limit/-Remaining/-Interval-Seconds/-FillRate`
  (https://confluence.atlassian.com/adminjiraserver/adjusting-your-code-for-rate-limiting-987143384.html).
- Error bodies are `{"errorMessages": [...], "errors": {field: message}}`, with Jira's wording where known
  (labels with spaces, an invalid issue type, a field not on the screen, a summary over 255 characters).

Workflows are data: statuses with a category (new, indeterminate, done) and transitions (global or from given
statuses), whose screen may hold a resolution field (optional or required), or whose post-function sets one.
Moving an issue into a status outside the done category clears its resolution (what Jira's default workflows do).

JQL: a documented subset, enough for Certifai, clauses joined by AND, and ORDER BY:
`project = X` / `in (...)`, `labels = x` / `in (...)`, `key|issuekey = K` / `in (K-1, K-2)`,
`created >=|>|<=|< "yyyy/MM/dd HH:mm"` (also yyyy-MM-dd, date only, or relative "-15m", "-2d"; absolute dates are
in the searching user's time zone, `user_timezone`), `text|summary|description ~ "words"` (every word must occur),
`status = "Name"`, `statusCategory = done`. Anything else is a 400, like an unknown field in Jira.

The search index lags: an issue is found by search only `search_lag` seconds after it was created (`reindex()`
catches up at once). Reading an issue by key is always consistent.

Set-up from tests::

    server = FakeJira(deployment="cloud", email="bot@example.com", token="api-token", project_key="SEC")
    server = FakeJira(deployment="datacenter", token="pat", workflow=my_workflow, search_lag=600)
    server.permissions.discard("TRANSITION_ISSUES"); server.rate_limit = (10, 60.0)
    server.add_issue("SEC", "Seeded", description="...", labels=["certifai"], status="Done")
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .base import FakeServer, Fault, Request, Response

CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
MAX_TEXT = 32_767
MAX_SUMMARY = 255
MAX_LABEL = 255
PERMISSION_NAMES = {
    "BROWSE_PROJECTS": "Browse Projects",
    "CREATE_ISSUES": "Create Issues",
    "TRANSITION_ISSUES": "Transition Issues",
    "ADD_COMMENTS": "Add Comments",
    "EDIT_ISSUES": "Edit Issues",
    "RESOLVE_ISSUES": "Resolve Issues",
}
NOT_ON_SCREEN = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."
SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


# --- workflow model ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    name: str
    category: str  # new, indeterminate, done
    id: str = ""


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to: str  # status name
    sources: tuple[str, ...] | None = None  # None: a global transition, from every other status
    resolution: str | None = None  # the screen's resolution field: None (no field), "optional" or "required"
    sets_resolution: str | None = None  # a post-function setting this resolution (no screen needed)
    required_fields: tuple[str, ...] = ()  # other fields the screen requires (custom field ids), no default


@dataclass
class Workflow:
    statuses: list[Status]
    transitions: list[Transition]
    initial: str

    @classmethod
    def software(cls) -> Workflow:
        """Jira Software's simplified workflow: To Do -> In Progress -> Done, every transition global;
        "Done" sets the resolution Done by post-function, the others clear it."""
        return cls(
            statuses=[Status("To Do", "new", "10000"), Status("In Progress", "indeterminate", "3"),
                      Status("Done", "done", "10001")],
            transitions=[
                Transition("11", "To Do", "To Do"),
                Transition("21", "In Progress", "In Progress"),
                Transition("31", "Done", "Done", sets_resolution="Done"),
            ],
            initial="To Do",
        )

    def status(self, name: str) -> Status:
        for status in self.statuses:
            if status.name.lower() == name.lower():
                return status
        raise KeyError(name)

    def available(self, current: str) -> list[Transition]:
        return [
            t for t in self.transitions
            if (t.sources is None and t.to.lower() != current.lower())
            or (t.sources is not None and current.lower() in (s.lower() for s in t.sources))
        ]


@dataclass
class IssueType:
    id: str
    name: str
    subtask: bool = False
    required_fields: dict[str, str] = field(default_factory=dict)  # field id -> name, beyond Jira's own


@dataclass
class Project:
    id: str
    key: str
    name: str
    issue_types: list[IssueType]
    workflow: Workflow
    priority_on_screen: bool = True
    labels_on_screen: bool = True
    counter: int = 0


def default_issue_types() -> list[IssueType]:
    return [IssueType("10000", "Epic"), IssueType("10001", "Story"), IssueType("10002", "Task"),
            IssueType("10003", "Sub-task", subtask=True), IssueType("10004", "Bug")]


DEFAULT_PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
DEFAULT_RESOLUTIONS = [("10000", "Done"), ("10001", "Won't Do"), ("10002", "Won't Fix"), ("10003", "Duplicate"),
                       ("10004", "Cannot Reproduce")]


# --- ADF -----------------------------------------------------------------------------------------------------------

ADF_BLOCKS = {"paragraph", "heading", "codeBlock", "bulletList", "orderedList", "listItem", "blockquote", "rule",
              "panel", "table", "tableRow", "tableHeader", "tableCell", "mediaSingle", "media", "expand"}
ADF_INLINE = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}
ADF_MARKS = {"strong", "em", "code", "link", "strike", "underline", "subsup", "textColor"}


def adf_problem(node: Any, top: bool = True) -> str | None:
    """Why `node` isn't an ADF document Jira would accept (a loose version of the published schema), or None."""
    if top:
        if not isinstance(node, dict) or node.get("type") != "doc" or node.get("version") != 1:
            return "not an ADF document (type doc, version 1)"
        if not isinstance(node.get("content"), list):
            return "doc without content"
        for child in node["content"]:
            problem = adf_problem(child, top=False)
            if problem:
                return problem
        return None
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return "a node is not an object with a type"
    kind = node["type"]
    if kind not in ADF_BLOCKS | ADF_INLINE:
        return f"unknown node type {kind!r}"
    if kind == "text":
        if not isinstance(node.get("text"), str) or not node["text"]:
            return "a text node needs non-empty text"
        marks = node.get("marks") or []
        if not isinstance(marks, list):
            return "marks must be a list"
        for mark in marks:
            if not isinstance(mark, dict) or mark.get("type") not in ADF_MARKS:
                return f"unknown mark {mark!r}"
            if mark["type"] == "link" and not isinstance((mark.get("attrs") or {}).get("href"), str):
                return "a link mark needs attrs.href"
        kinds = {mark["type"] for mark in marks}
        if "code" in kinds and kinds - {"code", "link"}:
            return "the code mark combines with link only"
        return None
    if kind == "heading" and (node.get("attrs") or {}).get("level") not in range(1, 7):
        return "a heading needs attrs.level 1-6"
    content = node.get("content", [])
    if not isinstance(content, list):
        return "content must be a list"
    for child in content:
        if kind == "codeBlock" and (not isinstance(child, dict) or child.get("type") != "text" or child.get("marks")):
            return "a codeBlock holds unmarked text only"
        problem = adf_problem(child, top=False)
        if problem:
            return problem
    return None


def adf_to_text(node: Any) -> str:
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    children = node.get("content") or []
    parts = [adf_to_text(child) for child in children]
    inline = any(isinstance(c, dict) and c.get("type") in ADF_INLINE for c in children)
    return "".join(parts) if inline else "\n".join(p for p in parts if p)


def text_to_adf(text: str) -> dict[str, Any]:
    """What Cloud shows on v3 for text written through v2 (simplified: one paragraph per line)."""
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]} if line else {"type": "paragraph"}
        for line in text.split("\n")
    ]}


def java_length(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def stored_size(value: Any) -> int:
    if isinstance(value, str):
        return java_length(value)
    return java_length(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# --- JQL -------------------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(?P<op>>=|<=|!=|!~|=|~|>|<)|(?P<punct>[(),])"
    r"|(?P<word>[^\s\"'(),=!<>~]+))"
)
JQL_FIELDS = {
    "project": {"=", "!=", "in"},
    "labels": {"=", "!=", "in"},
    "key": {"=", "!=", "in"},
    "issuekey": {"=", "!=", "in"},
    "created": {">=", ">", "<=", "<", "="},
    "createddate": {">=", ">", "<=", "<", "="},
    "text": {"~"},
    "summary": {"~"},
    "description": {"~"},
    "status": {"=", "!=", "in"},
    "statuscategory": {"=", "!="},
}
DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
BAD_DATE = ("Date value '{}' for field 'created' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
            "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")
KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-\d+$")


class JqlError(Exception):
    pass


@dataclass
class Clause:
    field: str
    op: str
    values: list[str]


@dataclass
class Query:
    clauses: list[Clause]
    order: list[tuple[str, bool]]  # (field, descending)


def _tokens(jql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    jql = jql.rstrip()
    while pos < len(jql):
        match = _TOKEN.match(jql, pos)
        if not match or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: the character '{jql[pos]}' is a reserved JQL character "
                           f"(line 1, character {pos + 1}).")
        pos = match.end()
        for kind in ("str", "op", "punct", "word"):
            if match.group(kind) is not None:
                value = match.group(kind)
                if kind == "str":
                    value = re.sub(r"\\(.)", r"\1", value[1:-1])
                out.append((kind, value))
                break
    return out


def parse_jql(jql: str) -> Query:
    tokens = _tokens(jql)
    clauses: list[Clause] = []
    order: list[tuple[str, bool]] = []
    i = 0

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise JqlError("Error in the JQL Query: Expecting more input at the end of the query.")
        i += 1
        return tokens[i - 1]

    def value() -> str:
        kind, text = take()
        if kind not in ("str", "word"):
            raise JqlError(f"Error in the JQL Query: Expecting either a value, list or function but got '{text}'.")
        return text

    while i < len(tokens):
        kind, word = take()
        if kind == "word" and word.lower() == "order":
            if take()[1].lower() != "by":
                raise JqlError("Error in the JQL Query: Expecting 'by' after 'order'.")
            while True:
                name = value().lower()
                descending = False
                if i < len(tokens) and tokens[i][1].lower() in ("asc", "desc"):
                    descending = take()[1].lower() == "desc"
                order.append((name, descending))
                if i < len(tokens) and tokens[i][1] == ",":
                    take()
                    continue
                break
            if i < len(tokens):
                raise JqlError(f"Error in the JQL Query: unexpected '{tokens[i][1]}' after ORDER BY.")
            break
        if kind not in ("word", "str"):
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{word}'.")
        name = word.lower()
        if name not in JQL_FIELDS:
            raise JqlError(f"Field '{word}' does not exist or you do not have permission to view it.")
        op_kind, op = take()
        if op_kind == "word" and op.lower() == "in":
            op = "in"
        elif op_kind != "op":
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{op}'.")
        if op not in JQL_FIELDS[name]:
            raise JqlError(f"The operator '{op}' is not supported by the '{word}' field.")
        if op == "in":
            if take()[1] != "(":
                raise JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
            values = [value()]
            while True:
                _, punct = take()
                if punct == ")":
                    break
                if punct != ",":
                    raise JqlError(f"Error in the JQL Query: Expecting ',' or ')' but got '{punct}'.")
                values.append(value())
        else:
            values = [value()]
        clauses.append(Clause(name, op, values))
        if i < len(tokens):
            kind, word = tokens[i]
            if word.lower() == "and":
                i += 1
                if i >= len(tokens):
                    raise JqlError("Error in the JQL Query: Expecting a field name at the end of the query.")
            elif word.lower() == "or":
                raise JqlError("This fake supports AND only (OR is valid JQL, but not modelled here).")
            elif word.lower() != "order":
                raise JqlError(f"Error in the JQL Query: Expecting 'AND', 'OR' or 'ORDER BY' but got '{word}'.")
    return Query(clauses, order)


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


# --- the server ----------------------------------------------------------------------------------------------------


class FakeJira(FakeServer):
    """One Jira site. `deployment` is "cloud" (REST v3 and v2, email + API token as Basic auth) or
    "datacenter" (REST v2, personal access token as Bearer)."""

    def __init__(
        self,
        deployment: str = "cloud",
        email: str = "bot@example.com",
        token: str = "jira-secret-token",  # noqa: S107 - a fake's own test credential
        project_key: str = "SEC",
        workflow: Workflow | None = None,
        user_timezone: str = "Australia/Sydney",
        search_lag: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        if deployment not in ("cloud", "datacenter"):
            raise ValueError("deployment is 'cloud' or 'datacenter'")
        self.deployment = deployment
        self.email = email
        self.token = token
        self.user_timezone = user_timezone
        self.display_name = "Certifai Bot"
        self.clock: Callable[[], float] = time.time
        self.search_lag = search_lag
        self.max_page_size = 100  # Jira caps maxResults per page (lower when many fields are asked)
        self.rate_limit: tuple[int, float] | None = None  # (requests, per seconds); None: unlimited
        self._window: tuple[int, int] = (0, 0)  # (window number, requests in it)
        self.permissions: set[str] = set(PERMISSION_NAMES)
        self.priorities: list[tuple[str, str]] = list(DEFAULT_PRIORITIES)
        self.resolutions: list[tuple[str, str]] = list(DEFAULT_RESOLUTIONS)
        self.projects: dict[str, Project] = {}
        self.issues: dict[str, dict[str, Any]] = {}  # key -> issue
        self._ids = itertools.count(10001)
        self.add_project(project_key, workflow=workflow)
        super().__init__(host, port)

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    # --- set-up from tests ------------------------------------------------------------------------------------

    def add_project(self, key: str, name: str | None = None, workflow: Workflow | None = None,
                    issue_types: list[IssueType] | None = None) -> Project:
        project = Project(str(next(self._ids)), key, name or f"{key} project", issue_types or default_issue_types(),
                          workflow or Workflow.software())
        self.projects[key.upper()] = project
        return project

    def project(self, key: str = "") -> Project:
        return self.projects[key.upper()] if key else next(iter(self.projects.values()))

    def add_issue(self, project_key: str, summary: str, description: Any = None, labels: Iterable[str] = (),
                  status: str | None = None, resolution: str | None = None, created: float | None = None,
                  issue_type: str = "Bug", indexed: bool = True) -> dict[str, Any]:
        """Seed an issue without going through the API (no rate limit, no request log)."""
        with self.lock:
            project = self.projects[project_key.upper()]
            kind = next(t for t in project.issue_types if t.name == issue_type)
            issue = self._new_issue(project, kind, summary, description, list(labels), None, created)
            if status:
                issue["status"] = project.workflow.status(status).name
            if resolution:
                issue["resolution"] = self._resolution(resolution)
            if indexed:
                issue["_indexed_at"] = issue["_created"]
            return issue

    def issue(self, key: str) -> dict[str, Any]:
        """The stored issue (raw: description as it was sent, ADF or wiki markup)."""
        return self.issues[key.upper()]

    def reindex(self) -> None:
        """Let the search index catch up with every write so far."""
        with self.lock:
            for issue in self.issues.values():
                issue["_indexed_at"] = min(issue["_indexed_at"], self.clock())

    def rate_limit_fault(self, retry_after: int = 30) -> Fault:
        """A 429 as this deployment sends it, for `add_fault`."""
        return Fault("rate_limit", retry_after=retry_after, headers=self._rate_limit_headers(retry_after),
                     body={"errorMessages": ["Rate limit exceeded."], "errors": {}})

    # --- routes ----------------------------------------------------------------------------------------------

    def setup_routes(self) -> None:
        api = self._api
        api("GET", "/serverInfo", self._server_info)
        api("GET", "/myself", self._myself)
        api("GET", r"/project/(?P<project>[^/]+)", self._get_project)
        api("GET", "/mypermissions", self._my_permissions)
        api("GET", r"/issue/createmeta/(?P<project>[^/]+)/issuetypes", self._createmeta_types)
        api("GET", r"/issue/createmeta/(?P<project>[^/]+)/issuetypes/(?P<type>[^/]+)", self._createmeta_fields)
        api("GET", "/priority", self._priorities)
        api("GET", "/resolution", self._resolutions)
        api("GET", "/field", self._fields)
        api("POST", "/issue", self._create_issue)
        api("GET", r"/issue/(?P<key>[^/]+)", self._get_issue)
        api("GET", r"/issue/(?P<key>[^/]+)/transitions", self._get_transitions)
        api("POST", r"/issue/(?P<key>[^/]+)/transitions", self._do_transition)
        api("GET", r"/issue/(?P<key>[^/]+)/comment", self._get_comments)
        api("POST", r"/issue/(?P<key>[^/]+)/comment", self._add_comment)
        api("GET", "/search/jql", self._search_jql, cloud_only=True)
        api("POST", "/search/jql", self._search_jql, cloud_only=True)
        api("GET", "/search", self._search_classic)
        api("POST", "/search", self._search_classic)

    def _api(self, method: str, suffix: str, handler: Callable[[Request, str], Response],
             cloud_only: bool = False) -> None:
        def serve(request: Request) -> Response:
            version = request.params.pop("v")
            served = ("2", "3") if self.cloud else ("2", "latest")
            if version not in served or (cloud_only and not self.cloud):
                return Response(404, {"errorMessages": [f"null for uri: {request.path}"], "errors": {}})
            limited = self._throttle()
            if limited:
                return limited
            return handler(request, "2" if version == "latest" else version)

        self.route(method, r"/rest/api/(?P<v>2|3|latest)" + suffix, serve)

    # --- auth and limits ---------------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if self.cloud:
            expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            ok = header == expected
        else:
            ok = header == f"Bearer {self.token}"
        if ok:
            return None
        if not header and request.path.endswith("/serverInfo"):
            return None  # serverInfo answers anonymous requests
        if self.cloud:
            return Response(401, "Client must be authenticated to access this resource.",
                            {"WWW-Authenticate": 'Basic realm="protected-area"'})
        return Response(
            401,
            {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
             "errors": {}},
            {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED", "WWW-Authenticate": "OAuth realm=\"\""},
        )

    def _rate_limit_headers(self, retry_after: int) -> dict[str, str]:
        limit = str(self.rate_limit[0]) if self.rate_limit else "100"
        if self.cloud:
            reset = datetime.fromtimestamp(self.clock() + retry_after, UTC).strftime("%Y-%m-%dT%H:%MZ")
            return {"Retry-After": str(retry_after), "X-RateLimit-Reset": reset, "RateLimit-Reason": "jira-burst-based",
                    "X-RateLimit-Limit": limit, "X-RateLimit-Remaining": "0"}
        interval = str(int(self.rate_limit[1])) if self.rate_limit else "60"
        return {"Retry-After": str(retry_after), "X-RateLimit-Limit": limit, "X-RateLimit-Remaining": "0",
                "X-RateLimit-Interval-Seconds": interval, "X-RateLimit-FillRate": limit}

    def _throttle(self) -> Response | None:
        if not self.rate_limit:
            return None
        limit, per = self.rate_limit
        now = self.clock()
        window = int(now // per)
        number, count = self._window
        count = count + 1 if number == window else 1
        self._window = (window, count)
        if count <= limit:
            return None
        retry_after = max(1, int((window + 1) * per - now + 0.999))
        return Response(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                        self._rate_limit_headers(retry_after))

    # --- JSON helpers -----------------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, messages: Iterable[str] = (), errors: dict[str, str] | None = None) -> Response:
        return Response(status, {"errorMessages": list(messages), "errors": errors or {}})

    def _api_url(self, version: str, path: str) -> str:
        return f"{self.url}/rest/api/{version}/{path}"

    def _time(self, epoch: float) -> str:
        moment = datetime.fromtimestamp(epoch, ZoneInfo(self.user_timezone))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(moment.microsecond / 1000):03d}" + moment.strftime("%z")

    def _user_json(self, version: str) -> dict[str, Any]:
        user: dict[str, Any] = {"displayName": self.display_name, "active": True, "timeZone": self.user_timezone}
        if self.cloud:
            user |= {"self": self._api_url(version, "user?accountId=5b10a2844c20165700ede21g"),
                     "accountId": "5b10a2844c20165700ede21g", "accountType": "atlassian",
                     "emailAddress": self.email}
        else:
            user |= {"self": self._api_url(version, "user?username=certifai"), "name": "certifai",
                     "key": "JIRAUSER10100", "emailAddress": "certifai@example.com"}
        return user

    def _status_json(self, project: Project, name: str, version: str) -> dict[str, Any]:
        status = project.workflow.status(name)
        category = CATEGORIES[status.category]
        return {
            "self": self._api_url(version, f"status/{status.id}"),
            "description": "",
            "iconUrl": f"{self.url}/images/icons/statuses/generic.png",
            "name": status.name,
            "id": status.id,
            "statusCategory": {"self": self._api_url(version, f"statuscategory/{category['id']}"), **category},
        }

    def _resolution(self, name_or_id: str) -> dict[str, str]:
        for rid, name in self.resolutions:
            if name_or_id in (rid, name):
                return {"id": rid, "name": name}
        raise KeyError(name_or_id)

    def _resolution_json(self, resolution: dict[str, str], version: str) -> dict[str, Any]:
        return {"self": self._api_url(version, f"resolution/{resolution['id']}"), "id": resolution["id"],
                "name": resolution["name"], "description": ""}

    def _priority_json(self, pid: str, name: str, version: str) -> dict[str, Any]:
        return {"self": self._api_url(version, f"priority/{pid}"), "statusColor": "#ffab00", "description": name,
                "iconUrl": f"{self.url}/images/icons/priorities/{name.lower()}.svg", "name": name, "id": pid}

    def _type_json(self, kind: IssueType, version: str) -> dict[str, Any]:
        return {"self": self._api_url(version, f"issuetype/{kind.id}"), "id": kind.id, "name": kind.name,
                "description": "", "iconUrl": f"{self.url}/images/icons/issuetypes/{kind.name.lower()}.svg",
                "subtask": kind.subtask, "hierarchyLevel": -1 if kind.subtask else 0}

    def _rich(self, value: Any, version: str) -> Any:
        """A stored description or comment body as this API version returns it."""
        if value is None:
            return None
        if version == "3":
            return value if isinstance(value, dict) else text_to_adf(value)
        return adf_to_text(value) if isinstance(value, dict) else value

    def _comment_json(self, issue: dict[str, Any], comment: dict[str, Any], version: str) -> dict[str, Any]:
        return {"self": self._api_url(version, f"issue/{issue['id']}/comment/{comment['id']}"), "id": comment["id"],
                "author": self._user_json(version), "body": self._rich(comment["body"], version),
                "created": self._time(comment["created"]), "updated": self._time(comment["created"])}

    ALL_FIELDS = ("summary", "description", "status", "resolution", "resolutiondate", "created", "updated", "labels",
                  "priority", "issuetype", "project", "reporter", "comment")

    def _wanted_fields(self, requested: Any, default: Iterable[str]) -> list[str]:
        if requested is None:
            names = list(default)
        else:
            raw = requested if isinstance(requested, list) else [requested]
            names = [n.strip() for item in raw for n in str(item).split(",") if n.strip()]
        wanted: list[str] = []
        for name in names:
            if name in ("*all", "*navigable"):
                wanted += [f for f in self.ALL_FIELDS if name == "*all" or f != "comment"]
            elif not name.startswith("-"):
                wanted.append(name)
        excluded = {n[1:] for n in names if n.startswith("-")}
        return [f for f in dict.fromkeys(wanted) if f in self.ALL_FIELDS and f not in excluded]

    def _issue_json(self, issue: dict[str, Any], version: str, fields: list[str]) -> dict[str, Any]:
        project = self.projects[issue["project"]]
        values: dict[str, Any] = {
            "summary": issue["summary"],
            "description": self._rich(issue["description"], version),
            "status": self._status_json(project, issue["status"], version),
            "resolution": self._resolution_json(issue["resolution"], version) if issue["resolution"] else None,
            "resolutiondate": self._time(issue["resolved"]) if issue["resolved"] else None,
            "created": self._time(issue["_created"]),
            "updated": self._time(issue["updated"]),
            "labels": list(issue["labels"]),
            "priority": self._priority_json(*issue["priority"], version) if issue["priority"] else None,
            "issuetype": self._type_json(issue["issuetype"], version),
            "project": {"self": self._api_url(version, f"project/{project.id}"), "id": project.id,
                        "key": project.key, "name": project.name},
            "reporter": self._user_json(version),
            "comment": {"comments": [self._comment_json(issue, c, version) for c in issue["comments"]],
                        "self": self._api_url(version, f"issue/{issue['id']}/comment"),
                        "maxResults": len(issue["comments"]), "total": len(issue["comments"]), "startAt": 0},
        }
        return {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                "id": issue["id"], "self": self._api_url(version, f"issue/{issue['id']}"), "key": issue["key"],
                "fields": {name: values[name] for name in fields}}

    def _find_issue(self, key: str) -> dict[str, Any] | None:
        issue = self.issues.get(key.upper())
        if issue is None:
            issue = next((i for i in self.issues.values() if i["id"] == key), None)
        return issue

    def _find_project(self, ref: str) -> Project | None:
        return self.projects.get(ref.upper()) or next((p for p in self.projects.values() if p.id == ref), None)

    @staticmethod
    def _issue_missing() -> Response:
        return FakeJira._error(404, ["Issue does not exist or you do not have permission to see it."])

    @staticmethod
    def _project_missing(ref: str) -> Response:
        return FakeJira._error(404, [f"No project could be found with key '{ref}'."])

    @staticmethod
    def _body(request: Request) -> dict[str, Any] | Response:
        try:
            body = request.json()
        except ValueError:
            return FakeJira._error(400, ["Unexpected character in the request body: not JSON."])
        if not isinstance(body, dict):
            return FakeJira._error(400, ["Can not deserialize the request body: expected an object."])
        return body

    def _rich_problem(self, value: Any, version: str) -> str | None:
        """Why a description/comment body is refused by this API version, or None."""
        if version == "3":
            if not isinstance(value, dict):
                return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            problem = adf_problem(value)
            if problem:
                return f"INVALID_INPUT: {problem}"
        elif not isinstance(value, str):
            return "Operation value must be a string"
        if stored_size(value) > MAX_TEXT:
            return "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
        return None

    def _new_issue(self, project: Project, kind: IssueType, summary: str, description: Any, labels: list[str],
                   priority: tuple[str, str] | None, created: float | None = None) -> dict[str, Any]:
        project.counter += 1
        now = self.clock() if created is None else created
        issue = {
            "id": str(next(self._ids)),
            "key": f"{project.key}-{project.counter}",
            "project": project.key.upper(),
            "issuetype": kind,
            "summary": summary,
            "description": description,
            "labels": labels,
            "priority": priority or ("3", "Medium"),
            "status": project.workflow.initial,
            "resolution": None,
            "resolved": None,
            "_created": now,
            "updated": now,
            "comments": [],
            "_indexed_at": now + self.search_lag,
        }
        self.issues[issue["key"]] = issue
        return issue

    # --- handlers: site, user, project ----------------------------------------------------------------------

    def _server_info(self, request: Request, version: str) -> Response:
        now = self._time(self.clock())
        info = {"baseUrl": self.url, "serverTime": now, "buildDate": "2024-01-02T03:04:05.000+0000",
                "scmInfo": "0123456789abcdef", "serverTitle": "Jira", "defaultLocale": {"locale": "en_US"}}
        if self.cloud:
            info |= {"version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud",
                     "buildNumber": 100260}
        else:
            info |= {"version": "9.12.2", "versionNumbers": [9, 12, 2], "deploymentType": "Server",
                     "buildNumber": 9120002, "serverTimeZone": "Etc/UTC"}
        return Response(200, info)

    def _myself(self, request: Request, version: str) -> Response:
        return Response(200, self._user_json(version) | {"locale": "en_US", "groups": {"size": 1, "items": []}})

    def _get_project(self, request: Request, version: str) -> Response:
        project = self._find_project(request.params["project"])
        if project is None:
            return self._project_missing(request.params["project"])
        return Response(200, {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": self._api_url(version, f"project/{project.id}"), "id": project.id, "key": project.key,
            "name": project.name, "projectTypeKey": "software", "simplified": False, "style": "classic",
            "issueTypes": [self._type_json(kind, version) for kind in project.issue_types],
            "lead": self._user_json(version),
        })

    def _my_permissions(self, request: Request, version: str) -> Response:
        requested = request.arg("permissions")
        if self.cloud and not requested:
            return self._error(400, ["The 'permissions' query parameter is required."])
        project_ref = request.arg("projectKey") or request.arg("projectId")
        if project_ref and self._find_project(project_ref) is None:
            return self._error(404, [f"No project could be found with key '{project_ref}'."])
        keys = [k.strip() for k in requested.split(",") if k.strip()] if requested else list(PERMISSION_NAMES)
        unknown = [k for k in keys if k not in PERMISSION_NAMES]
        if unknown:
            return self._error(400, [f"Permission '{unknown[0]}' does not exist."])
        return Response(200, {"permissions": {
            key: {"id": str(i + 10), "key": key, "name": PERMISSION_NAMES[key], "type": "PROJECT",
                  "description": "", "havePermission": key in self.permissions}
            for i, key in enumerate(keys)
        }})

    def _createmeta_types(self, request: Request, version: str) -> Response:
        project = self._find_project(request.params["project"])
        if project is None:
            return self._project_missing(request.params["project"])
        kinds = project.issue_types if "CREATE_ISSUES" in self.permissions else []
        start = int(request.arg("startAt") or 0)
        size = min(int(request.arg("maxResults") or 50), 200)
        page = [self._type_json(kind, version) for kind in kinds[start : start + size]]
        meta = {"maxResults": size, "startAt": start, "total": len(kinds)}
        if self.cloud:
            return Response(200, {"issueTypes": page, **meta})
        return Response(200, {"values": page, "isLast": start + size >= len(kinds), **meta})

    def _create_fields(self, project: Project, kind: IssueType) -> list[dict[str, Any]]:
        def meta(fid: str, name: str, kind_: str, required: bool = False, default: bool = False,
                 allowed: list[dict[str, Any]] | None = None) -> dict[str, Any]:
            item = {"required": required, "schema": {"type": kind_, "system": fid}, "name": name, "key": fid,
                    "fieldId": fid, "hasDefaultValue": default, "operations": ["set"]}
            if allowed is not None:
                item["allowedValues"] = allowed
            return item

        fields = [
            meta("summary", "Summary", "string", required=True),
            meta("issuetype", "Issue Type", "issuetype", required=True),
            meta("project", "Project", "project", required=True),
            meta("reporter", "Reporter", "user", required=True, default=True),
            meta("description", "Description", "string"),
        ]
        if project.labels_on_screen:
            fields.append(meta("labels", "Labels", "array"))
        if project.priority_on_screen:
            fields.append(meta("priority", "Priority", "priority", default=True,
                               allowed=[self._priority_json(pid, name, "2") for pid, name in self.priorities]))
        for fid, name in kind.required_fields.items():
            fields.append(meta(fid, name, "any", required=True))
        return fields

    def _createmeta_fields(self, request: Request, version: str) -> Response:
        project = self._find_project(request.params["project"])
        if project is None:
            return self._project_missing(request.params["project"])
        kind = next((k for k in project.issue_types if k.id == request.params["type"]), None)
        if kind is None:
            return self._error(404, ["Issue type with given ID does not exist or you do not have permission to "
                                     "view it."])
        fields = self._create_fields(project, kind) if "CREATE_ISSUES" in self.permissions else []
        meta = {"maxResults": 50, "startAt": 0, "total": len(fields)}
        if self.cloud:
            return Response(200, {"fields": fields, **meta})
        return Response(200, {"values": fields, "isLast": True, **meta})

    def _priorities(self, request: Request, version: str) -> Response:
        return Response(200, [self._priority_json(pid, name, version) for pid, name in self.priorities])

    def _resolutions(self, request: Request, version: str) -> Response:
        return Response(200, [self._resolution_json({"id": rid, "name": name}, version)
                              for rid, name in self.resolutions])

    def _fields(self, request: Request, version: str) -> Response:
        names = {"summary": "Summary", "description": "Description", "status": "Status", "resolution": "Resolution",
                 "resolutiondate": "Resolved", "created": "Created", "updated": "Updated", "labels": "Labels",
                 "priority": "Priority", "issuetype": "Issue Type", "project": "Project", "reporter": "Reporter",
                 "comment": "Comment"}
        clauses = {"issuetype": ["issuetype", "type"], "created": ["created", "createdDate"],
                   "resolutiondate": ["resolutiondate", "resolved"]}
        return Response(200, [
            {"id": fid, "key": fid, "name": name, "custom": False, "orderable": True, "navigable": fid != "comment",
             "searchable": True, "clauseNames": clauses.get(fid, [fid]), "schema": {"type": "any", "system": fid}}
            for fid, name in names.items()
        ])

    # --- handlers: issues ---------------------------------------------------------------------------------------

    def _create_issue(self, request: Request, version: str) -> Response:
        body = self._body(request)
        if isinstance(body, Response):
            return body
        fields = body.get("fields")
        if not isinstance(fields, dict):
            return self._error(400, ["Can not instantiate an issue without fields."])
        errors: dict[str, str] = {}
        ref = fields.get("project") or {}
        project = self._find_project(str(ref.get("key") or ref.get("id") or "")) if isinstance(ref, dict) else None
        if project is None:
            return self._error(400, errors={"project": "Specify a valid project ID or key" if self.cloud
                                            else "project is required"})
        if "CREATE_ISSUES" not in self.permissions:
            return self._error(400, errors={"project": "You do not have permission to create issues in this "
                                                       "project."})
        allowed = {f["fieldId"] for f in self._create_fields(project, IssueType("", ""))} | {"reporter"}
        kind_ref = fields.get("issuetype") or {}
        kind = None
        if isinstance(kind_ref, dict):
            wanted_id, wanted_name = str(kind_ref.get("id") or ""), str(kind_ref.get("name") or "")
            kind = next((k for k in project.issue_types if k.id == wanted_id or (wanted_name and
                         k.name.lower() == wanted_name.lower())), None)
        if kind is None:
            errors["issuetype"] = ("The issue type selected is invalid." if self.cloud
                                   else "valid issue type is required")
        else:
            allowed |= set(kind.required_fields)
            for fid, name in kind.required_fields.items():
                if fid not in fields:
                    errors[fid] = f"{name} is required."
        for name in fields:
            if name not in allowed:
                errors[name] = NOT_ON_SCREEN.format(name)
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > MAX_SUMMARY:
            errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        description = fields.get("description")
        if description is not None and "description" not in errors:
            problem = self._rich_problem(description, version)
            if problem:
                errors["description"] = problem
        labels = fields.get("labels", [])
        if "labels" in fields and "labels" not in errors:
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                errors["labels"] = "Specify the value for labels in an array of strings"
            else:
                for label in labels:
                    if re.search(r"\s", label):
                        errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                        break
                    if len(label) > MAX_LABEL:
                        errors["labels"] = f"The label '{label[:20]}...' exceeds the 255 character limit."
                        break
        priority = None
        if "priority" in fields and "priority" not in errors:
            ref = fields["priority"] if isinstance(fields["priority"], dict) else {}
            priority = next(((pid, name) for pid, name in self.priorities
                             if pid == str(ref.get("id")) or name == ref.get("name")), None)
            if priority is None:
                errors["priority"] = (f"Priority name '{ref.get('name')}' is not valid" if ref.get("name")
                                      else "Could not find valid 'id' or 'name' in priority object.")
        if errors:
            return self._error(400, errors=errors)
        issue = self._new_issue(project, kind, summary, description, list(dict.fromkeys(labels)), priority)
        issue["_format"] = "adf" if isinstance(description, dict) else "wiki"
        return Response(201, {"id": issue["id"], "key": issue["key"],
                              "self": self._api_url(version, f"issue/{issue['id']}")})

    def _get_issue(self, request: Request, version: str) -> Response:
        issue = self._find_issue(request.params["key"])
        if issue is None:
            return self._issue_missing()
        fields = self._wanted_fields(request.query.get("fields"), ["*all"])
        return Response(200, self._issue_json(issue, version, fields))

    def _transition_json(self, project: Project, transition: Transition, version: str,
                         with_fields: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": transition.id, "name": transition.name, "to": self._status_json(project, transition.to, version),
            "hasScreen": transition.resolution is not None or bool(transition.required_fields),
            "isGlobal": transition.sources is None,
            "isInitial": False, "isAvailable": True, "isConditional": False, "isLooped": False,
        }
        if with_fields:
            item["fields"] = {}
            if transition.resolution:
                item["fields"]["resolution"] = {
                    "required": transition.resolution == "required",
                    "schema": {"type": "resolution", "system": "resolution"},
                    "name": "Resolution", "key": "resolution", "hasDefaultValue": False, "operations": ["set"],
                    "allowedValues": [self._resolution_json({"id": rid, "name": name}, version)
                                      for rid, name in self.resolutions],
                }
            for fid in transition.required_fields:
                item["fields"][fid] = {"required": True, "schema": {"type": "string", "custom": fid}, "name": fid,
                                       "key": fid, "hasDefaultValue": False, "operations": ["set"]}
        return item

    def _get_transitions(self, request: Request, version: str) -> Response:
        issue = self._find_issue(request.params["key"])
        if issue is None:
            return self._issue_missing()
        project = self.projects[issue["project"]]
        available = project.workflow.available(issue["status"]) if "TRANSITION_ISSUES" in self.permissions else []
        only = request.arg("transitionId")
        with_fields = "transitions.fields" in (request.arg("expand") or "")
        return Response(200, {"expand": "transitions", "transitions": [
            self._transition_json(project, t, version, with_fields) for t in available if not only or t.id == only
        ]})

    def _do_transition(self, request: Request, version: str) -> Response:
        issue = self._find_issue(request.params["key"])
        if issue is None:
            return self._issue_missing()
        body = self._body(request)
        if isinstance(body, Response):
            return body
        if "TRANSITION_ISSUES" not in self.permissions:
            return self._error(403, ["You do not have permission to transition this issue."])
        project = self.projects[issue["project"]]
        wanted = str((body.get("transition") or {}).get("id") or "")
        transition = next((t for t in project.workflow.available(issue["status"]) if t.id == wanted), None)
        if transition is None:
            return self._error(400, [f"Transition id '{wanted}' is not valid for this issue."])
        errors: dict[str, str] = {}
        resolution = None
        given = body.get("fields") or {}
        for fid in transition.required_fields:
            if not given.get(fid):
                errors[fid] = f"{fid} is required."
        for name, value in given.items():
            if name in transition.required_fields:
                continue
            if name != "resolution" or transition.resolution is None:
                errors[name] = NOT_ON_SCREEN.format(name)
                continue
            ref = value if isinstance(value, dict) else {}
            try:
                resolution = self._resolution(str(ref.get("id") or ref.get("name") or ""))
            except KeyError:
                errors["resolution"] = "Could not find valid 'id' or 'name' in resolution object."
        if transition.resolution == "required" and resolution is None and "resolution" not in errors:
            errors["resolution"] = "Resolution is required."
        comments = []
        for operation in ((body.get("update") or {}).get("comment") or []):
            text = (operation.get("add") or {}).get("body") if isinstance(operation, dict) else None
            problem = self._rich_problem(text, version)
            if problem:
                errors["comment"] = problem
            comments.append(text)
        if errors:
            return self._error(400, errors=errors)
        now = self.clock()
        issue["status"] = transition.to
        if project.workflow.status(transition.to).category != "done":
            issue["resolution"], issue["resolved"] = None, None
        else:
            chosen = resolution or (self._resolution(transition.sets_resolution) if transition.sets_resolution
                                    else None)
            if chosen:
                issue["resolution"], issue["resolved"] = chosen, now
        issue["updated"] = now
        for text in comments:
            issue["comments"].append({"id": str(next(self._ids)), "body": text, "created": now})
        return Response(204, None)

    def _get_comments(self, request: Request, version: str) -> Response:
        issue = self._find_issue(request.params["key"])
        if issue is None:
            return self._issue_missing()
        comments = [self._comment_json(issue, c, version) for c in issue["comments"]]
        return Response(200, {"comments": comments, "maxResults": len(comments), "total": len(comments),
                              "startAt": 0})

    def _add_comment(self, request: Request, version: str) -> Response:
        issue = self._find_issue(request.params["key"])
        if issue is None:
            return self._issue_missing()
        body = self._body(request)
        if isinstance(body, Response):
            return body
        if "ADD_COMMENTS" not in self.permissions:
            return self._error(403, ["You do not have the permission to comment on this issue."])
        text = body.get("body")
        if version == "3" and not isinstance(text, dict):
            return self._error(400, ["Comment body is not valid!"])
        problem = self._rich_problem(text, version)
        if problem:
            return self._error(400, errors={"comment": problem})
        now = self.clock()
        comment = {"id": str(next(self._ids)), "body": text, "created": now}
        issue["comments"].append(comment)
        issue["updated"] = now
        return Response(201, self._comment_json(issue, comment, version))

    # --- search ---------------------------------------------------------------------------------------------------

    def _date(self, text: str) -> float:
        relative = re.fullmatch(r"\s*(-?)((?:\d+[wdhm]\s*)+)", text)
        if relative:
            seconds = sum(int(n) * {"w": 604800, "d": 86400, "h": 3600, "m": 60}[unit]
                          for n, unit in re.findall(r"(\d+)([wdhm])", relative.group(2)))
            return self.clock() + (-seconds if relative.group(1) else seconds)
        for fmt in DATE_FORMATS:
            try:
                moment = datetime.strptime(text.strip(), fmt)
            except ValueError:
                continue
            return moment.replace(tzinfo=ZoneInfo(self.user_timezone)).timestamp()
        raise JqlError(BAD_DATE.format(text))

    def _matches(self, issue: dict[str, Any], clause: Clause) -> bool:
        name, op, values = clause.field, clause.op, clause.values
        lowered = [v.lower() for v in values]
        if name == "project":
            project = self.projects[issue["project"]]
            hit = any(v in (project.key.lower(), project.id, project.name.lower()) for v in lowered)
        elif name == "labels":
            hit = any(label.lower() in lowered for label in issue["labels"])
        elif name in ("key", "issuekey"):
            hit = issue["key"].lower() in lowered or issue["id"] in values
        elif name in ("created", "createddate"):
            moment, created = self._date(values[0]), issue["_created"]
            return {">=": created >= moment, ">": created > moment, "<=": created <= moment,
                    "<": created < moment, "=": int(created // 60) == int(moment // 60)}[op]
        elif name in ("text", "summary", "description"):
            texts = []
            if name in ("text", "summary"):
                texts.append(issue["summary"])
            if name in ("text", "description"):
                texts.append(adf_to_text(issue["description"]) if issue["description"] else "")
            if name == "text":
                texts += [adf_to_text(c["body"]) for c in issue["comments"]]
            return words(values[0]) <= words("\n".join(texts))
        elif name == "status":
            hit = issue["status"].lower() in lowered
        else:  # statuscategory
            category = self.projects[issue["project"]].workflow.status(issue["status"]).category
            hit = any(v in (category, CATEGORIES[category]["name"].lower(), str(CATEGORIES[category]["id"]))
                      for v in lowered)
        return not hit if op == "!=" else hit

    def _validate(self, query: Query, strict: bool) -> list[str]:
        """Jira checks values against the database (not the index); returns warnings when not strict."""
        warnings = []
        for clause in query.clauses:
            for value in clause.values:
                if clause.field == "project" and self._find_project(value) is None and not any(
                    p.name.lower() == value.lower() for p in self.projects.values()
                ):
                    raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
                if clause.field in ("key", "issuekey"):
                    if not KEY_PATTERN.match(value) and not value.isdigit():
                        raise JqlError(f"The issue key '{value}' for field '{clause.field}' is invalid.")
                    if self._find_issue(value) is None:
                        message = f"An issue with key '{value}' does not exist for field '{clause.field}'."
                        if strict:
                            raise JqlError(message)
                        warnings.append(message)
                if clause.field in ("created", "createddate"):
                    self._date(value)
        return warnings

    def _run_query(self, jql: str, strict: bool, reconcile: Iterable[str] = ()) -> tuple[list[dict], list[str]]:
        query = parse_jql(jql or "")
        warnings = self._validate(query, strict)
        now = self.clock()
        reconcile = {str(r) for r in reconcile}
        found = [
            issue for issue in self.issues.values()
            if (issue["_indexed_at"] <= now or issue["id"] in reconcile)
            and all(self._matches(issue, clause) for clause in query.clauses)
        ]

        def sort_key(name: str, issue: dict[str, Any]) -> Any:
            if name in ("key", "issuekey"):
                return (issue["project"], int(issue["key"].rsplit("-", 1)[1]))
            if name in ("created", "createddate"):
                return issue["_created"]
            if name == "updated":
                return issue["updated"]
            if name == "summary":
                return issue["summary"].lower()
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")

        found.sort(key=lambda issue: int(issue["id"]))
        for name, descending in reversed(query.order or [("created", True)]):
            found.sort(key=lambda issue, name=name: sort_key(name, issue), reverse=descending)
        return found, warnings

    def _search_params(self, request: Request) -> dict[str, Any] | Response:
        if request.method == "POST":
            body = self._body(request)
            if isinstance(body, Response):
                return body
            return body
        params: dict[str, Any] = {k: v[0] for k, v in request.query.items()}
        if "fields" in request.query:
            params["fields"] = request.query["fields"]
        if "reconcileIssues" in request.query:
            params["reconcileIssues"] = [x for v in request.query["reconcileIssues"] for x in v.split(",")]
        return params

    def _search_jql(self, request: Request, version: str) -> Response:
        params = self._search_params(request)
        if isinstance(params, Response):
            return params
        known = {"jql", "nextPageToken", "maxResults", "fields", "expand", "properties", "fieldsByKeys",
                 "failFast", "reconcileIssues"}
        unknown = [k for k in params if k not in known]
        if request.method == "POST" and unknown:
            return self._error(400, [f'Unrecognized field "{unknown[0]}"'])
        jql = params.get("jql") or ""
        try:
            if not parse_jql(jql).clauses:
                return self._error(400, ["Unbounded JQL queries are not allowed here. Please add a search "
                                         "restriction to your query."])
            found, _ = self._run_query(jql, strict=True, reconcile=params.get("reconcileIssues") or [])
        except JqlError as exc:
            return self._error(400, [str(exc)])
        digest = hashlib.sha1(jql.encode(), usedforsecurity=False).hexdigest()[:12]
        start = 0
        if params.get("nextPageToken"):
            try:
                offset, token_digest = base64.urlsafe_b64decode(str(params["nextPageToken"])).decode().split(":")
                start = int(offset)
            except (ValueError, UnicodeDecodeError):
                return self._error(400, ["The provided next page token is invalid or expired."])
            if token_digest != digest:
                return self._error(400, ["The provided next page token is invalid or expired."])
        size = max(1, min(int(params.get("maxResults") or 50), self.max_page_size))
        fields = self._wanted_fields(params.get("fields"), [])
        page = found[start : start + size]
        result: dict[str, Any] = {"issues": [self._issue_json(i, version, fields) for i in page]}
        if start + size < len(found):
            result["nextPageToken"] = base64.urlsafe_b64encode(f"{start + size}:{digest}".encode()).decode()
            result["isLast"] = False
        else:
            result["isLast"] = True
        return Response(200, result)

    def _search_classic(self, request: Request, version: str) -> Response:
        if self.cloud:
            return self._error(410, [SEARCH_GONE])
        params = self._search_params(request)
        if isinstance(params, Response):
            return params
        validate = str(params.get("validateQuery", "strict")).lower()
        try:
            found, warnings = self._run_query(params.get("jql") or "", strict=validate in ("strict", "true"))
        except JqlError as exc:
            return self._error(400, [str(exc)])
        start = int(params.get("startAt") or 0)
        size = max(0, min(int(params.get("maxResults") or 50), self.max_page_size))
        fields = self._wanted_fields(params.get("fields"), ["*navigable"])
        result: dict[str, Any] = {
            "expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found),
            "issues": [self._issue_json(i, version, fields) for i in found[start : start + size]],
        }
        if warnings:
            result["warningMessages"] = warnings
        return Response(200, result)


__all__ = ["CATEGORIES", "FakeJira", "IssueType", "JqlError", "Project", "Status", "Transition", "Workflow",
           "adf_problem", "adf_to_text", "parse_jql"]
