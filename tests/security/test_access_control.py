"""Access control: teams own repositories, members act on them as their role allows, everyone else gets 404.

The table below lists every page and API endpoint that touches a repository's objects, with the role it
needs; test_endpoint_by_role tries each of them as every kind of user:

- outsider: admin of another team (so a user with rights, just not here): 404 on every object of team A;
- viewer / editor / admin of team A: the action's status when their role reaches the one needed, else 403;
- superuser: everything;
- anonymous: the log-in page (web) or 401 (API).
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from findings.models import Repository
from issues.models import TrackerIssue
from teams import selectors as team_selectors
from teams.models import ROLE_RANK, Membership, Role, Team
from tests.factories import member
from tests.web import factories as f
from trackers import services as tracker_services

from .conftest import sarif_bytes

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "outsider", "viewer", "editor", "admin", "superuser"]


class World(SimpleNamespace):
    """Team A (alpha) and team B (beta), each with a repository, tracker, scan, findings and issues."""


def _repository_with_everything(name: str, team: Team) -> SimpleNamespace:
    repo = f.repository(name, team=team)
    f.tracker(repo, "github")
    scan = f.scan(repo, tool=f"Tool-{team.name}")
    finding = f.finding(repo, "high", seen_in=[scan], title=f"Finding of {team.name}", tool=f"Tool-{team.name}")
    issue = f.issue(finding, sync=TrackerIssue.Sync.FAILED, last_error="boom")
    spare = f.finding(repo, "high", seen_in=[scan], title=f"Spare finding of {team.name}",
                      tool=f"Tool-{team.name}")  # has no issue
    return SimpleNamespace(repo=repo, scan=scan, finding=finding, issue=issue, spare=spare)


@pytest.fixture
def world(django_user_model, monkeypatch):
    from issues import tasks

    monkeypatch.setattr(tasks.sync_repository, "delay", lambda repository_id: None)
    monkeypatch.setattr(tracker_services, "test_connection",
                        lambda config: SimpleNamespace(ok=True, message="Connected (stub)."))
    alpha, beta = Team.objects.create(name="alpha"), Team.objects.create(name="beta")
    users = {
        "viewer": member(django_user_model.objects.create_user("viewer"), Role.VIEWER, alpha),
        "editor": member(django_user_model.objects.create_user("editor"), Role.EDITOR, alpha),
        "admin": member(django_user_model.objects.create_user("admin-a"), Role.ADMIN, alpha),
        "outsider": member(django_user_model.objects.create_user("outsider"), Role.ADMIN, beta),
        "superuser": django_user_model.objects.create_superuser("root", "", "pw-root-12345"),
        "anonymous": None,
    }
    return World(a=_repository_with_everything("acme/alpha", alpha),
                 b=_repository_with_everything("acme/beta", beta), alpha=alpha, beta=beta, users=users)


def client_for(world: World, role: str) -> APIClient:
    client = APIClient()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


def _upload_form():
    return {"file": io.BytesIO(sarif_bytes(1)), "format": "auto"}


def _edit_form(world):
    return {"name": "acme/alpha", "team": world.alpha.pk, "url": "", "default_branch": "main",
            "tracker-type": "", "tracker-min_severity": "low", "tracker-reopen_policy": "unless_accepted"}


# name, method, url(world), data(world) or None, role needed, status on success, api?
ENDPOINTS = [
    # Web pages
    ("repository detail", "get", lambda w: reverse("repository-detail", args=[w.a.repo.pk]), None, "viewer", 200),
    ("scan upload", "post", lambda w: reverse("repository-detail", args=[w.a.repo.pk]), lambda w: _upload_form(),
     "editor", 302),
    ("repository edit form", "get", lambda w: reverse("repository-edit", args=[w.a.repo.pk]), None, "admin", 200),
    ("repository edit", "post", lambda w: reverse("repository-edit", args=[w.a.repo.pk]), _edit_form, "admin", 302),
    ("tracker test", "post", lambda w: reverse("repository-tracker-test", args=[w.a.repo.pk]), lambda w: {},
     "admin", 302),
    ("repository activity", "get", lambda w: reverse("repository-activity", args=[w.a.repo.pk]), None, "viewer",
     200),
    ("finding detail", "get", lambda w: reverse("finding-detail", args=[w.a.finding.pk]), None, "viewer", 200),
    ("create issue", "post", lambda w: reverse("finding-issue-create", args=[w.a.spare.pk]), lambda w: {},
     "editor", 302),
    ("issue retry", "post", lambda w: reverse("issue-retry", args=[w.a.issue.pk]), lambda w: {}, "editor", 302),
    # REST API
    ("api repository", "get", lambda w: f"/api/v1/repositories/{w.a.repo.pk}/", None, "viewer", 200),
    ("api repository update", "patch", lambda w: f"/api/v1/repositories/{w.a.repo.pk}/",
     lambda w: {"default_branch": "dev"}, "admin", 200),
    ("api tracker update", "patch", lambda w: f"/api/v1/repositories/{w.a.repo.pk}/",
     lambda w: {"tracker": {"min_severity": "critical"}}, "admin", 200),
    ("api repository delete", "delete", lambda w: f"/api/v1/repositories/{w.a.repo.pk}/", None, "admin", 204),
    ("api tracker test", "post", lambda w: f"/api/v1/repositories/{w.a.repo.pk}/tracker/test/", lambda w: {},
     "admin", 200),
    ("api scan upload", "post", lambda w: f"/api/v1/repositories/{w.a.repo.pk}/scans/", lambda w: _upload_form(),
     "editor", 201),
    ("api scan", "get", lambda w: f"/api/v1/scans/{w.a.scan.pk}/", None, "viewer", 200),
    ("api finding", "get", lambda w: f"/api/v1/findings/{w.a.finding.pk}/", None, "viewer", 200),
    ("api issue", "get", lambda w: f"/api/v1/issues/{w.a.issue.pk}/", None, "viewer", 200),
    ("api issue retry", "post", lambda w: f"/api/v1/issues/{w.a.issue.pk}/retry/", lambda w: {}, "editor", 200),
]

CASES = [
    pytest.param(name, method, url, data, needed, ok, role, id=f"{name}-{role}")
    for name, method, url, data, needed, ok in ENDPOINTS
    for role in ROLES
]


def expected_status(url: str, needed: str, ok: int, role: str) -> int:
    api = url.startswith("/api/")
    if role == "anonymous":
        return 401 if api else 302
    if role == "outsider":
        return 404
    if role == "superuser" or ROLE_RANK[role] >= ROLE_RANK[needed]:
        return ok
    return 403


def _send(client, method, url, data):
    if method == "get":
        return client.get(url)
    if method == "post" and data is not None and url.startswith("/api/") and "file" in data:
        return client.post(url, data, format="multipart")
    if url.startswith("/api/"):
        return getattr(client, method)(url, data, format="json")
    return getattr(client, method)(url, data)  # the web forms: multipart, like a browser


@pytest.mark.parametrize("name, method, url, data, needed, ok, role", CASES)
def test_endpoint_by_role(world, name, method, url, data, needed, ok, role):
    target = url(world)
    response = _send(client_for(world, role), method, target, data(world) if data else None)
    expected = expected_status(target, needed, ok, role)
    assert response.status_code == expected, f"{name} as {role}: {response.status_code} {response.content[:300]}"
    if role == "anonymous" and not target.startswith("/api/"):
        assert reverse("login") in response["Location"]


@pytest.mark.parametrize("name, method, url, data, needed, ok", [e for e in ENDPOINTS if e[1] != "get"])
def test_refused_writes_change_nothing(world, name, method, url, data, needed, ok):
    """A viewer's refused write (403) and an outsider's (404) leave team A's objects as they were."""
    before = _snapshot(world)
    for role in ("viewer", "outsider"):
        response = _send(client_for(world, role), method, url(world), data(world) if data else None)
        assert response.status_code in (403, 404)
    assert _snapshot(world) == before


def _snapshot(world):
    repo = Repository.objects.filter(pk=world.a.repo.pk).values("name", "default_branch", "team").first()
    config = tracker_services.TrackerConfig.objects.filter(repository=world.a.repo).values("min_severity").first()
    issues = list(TrackerIssue.objects.filter(repository=world.a.repo).values_list("pk", "sync_state", "attempts"))
    scans = world.a.repo.scans.count()
    return repo, config, issues, scans


# --- lists: nobody sees another team's objects ---------------------------------------------------------------

LIST_PAGES = ["dashboard", "repository-list", "scan-list", "finding-list", "issue-list"]
API_LISTS = ["/api/v1/repositories/", "/api/v1/scans/", "/api/v1/findings/", "/api/v1/issues/"]


@pytest.mark.parametrize("page", LIST_PAGES)
@pytest.mark.parametrize("role", ["outsider", "viewer", "editor", "admin", "superuser"])
def test_list_pages_show_only_the_users_teams(world, page, role):
    response = client_for(world, role).get(reverse(page))
    assert response.status_code == 200
    html = response.content.decode()
    sees_a = role != "outsider"
    sees_b = role in ("outsider", "superuser")
    marker = {"finding-list": "Finding of alpha", "scan-list": "Tool-alpha"}.get(page, "acme/alpha")
    assert ("acme/alpha" in html) == sees_a, (page, role)
    assert (marker in html) == sees_a, (page, role, marker)
    assert ("acme/beta" in html) == sees_b, (page, role)


@pytest.mark.parametrize("url", API_LISTS)
@pytest.mark.parametrize("role", ["outsider", "viewer", "superuser"])
def test_api_lists_show_only_the_users_teams(world, url, role):
    response = client_for(world, role).get(url)
    assert response.status_code == 200
    repos = {row["id"] if url == "/api/v1/repositories/" else row["repository"] for row in response.json()["results"]}
    expected = {"outsider": {world.b.repo.pk}, "viewer": {world.a.repo.pk},
                "superuser": {world.a.repo.pk, world.b.repo.pk}}[role]
    assert repos == expected


def test_dashboard_counts_only_the_users_teams(world):
    # beta: 2 open high findings and 1 failed issue, like alpha, whose tracker is also paused
    tracker_services.TrackerConfig.objects.filter(repository=world.a.repo).update(sync_paused=True)
    response = client_for(world, "outsider").get(reverse("dashboard"))
    context = response.context
    assert context["open_findings"] == 2  # beta's two, not alpha's
    assert context["severity_counts"]["high"] == 2
    assert [row["total"] for row in context["tracker_counts"]] == [1]
    assert [s.repository_id for s in context["recent_scans"]] == [world.b.repo.pk]
    assert [i.repository_id for i in context["failed_issues"]] == [world.b.repo.pk]
    assert context["paused_trackers"] == []  # alpha's paused tracker is not theirs
    root = client_for(world, "superuser").get(reverse("dashboard")).context
    assert root["open_findings"] == 4
    assert len(root["paused_trackers"]) == 1


@pytest.mark.parametrize("page", ["issue-list", "finding-list", "scan-list"])
def test_filter_choices_are_the_users_repositories(world, page):
    form = client_for(world, "outsider").get(reverse(page)).context["filter"].form
    assert list(form.fields["repository"].queryset) == [world.b.repo]
    if page == "finding-list":
        assert [value for value, _ in form.fields["tool"].choices if value] == ["Tool-beta"]


@pytest.mark.parametrize("url", API_LISTS[1:])
def test_api_filter_by_another_teams_repository_is_like_a_missing_one(world, url):
    client = client_for(world, "outsider")
    theirs = client.get(f"{url}?repository={world.a.repo.pk}")
    missing = client.get(f"{url}?repository=999999")
    assert theirs.status_code == missing.status_code == 400
    assert theirs.json() == {"repository": [m.replace("999999", str(world.a.repo.pk))
                                            for m in missing.json()["repository"]]}


def test_web_filter_by_another_teams_repository_shows_nothing_of_it(world):
    html = client_for(world, "outsider").get(f"{reverse('finding-list')}?repository={world.a.repo.pk}")
    assert "Finding of alpha" not in html.content.decode()


# --- what each role is offered on the pages ---------------------------------------------------------------

def test_webhook_secret_only_for_admins(world):
    secret = tracker_services.webhook_secret(world.a.repo.tracker)
    url = reverse("repository-detail", args=[world.a.repo.pk])
    for role, shown in (("viewer", False), ("editor", False), ("admin", True), ("superuser", True)):
        html = client_for(world, role).get(url).content.decode()
        assert (secret in html) == shown, role
        assert f.CANARY_TOKEN not in html
        assert "alpha" in html  # the team is on the page


def test_buttons_follow_the_role(world):
    url = reverse("repository-detail", args=[world.a.repo.pk])
    edit = reverse("repository-edit", args=[world.a.repo.pk])
    test = reverse("repository-tracker-test", args=[world.a.repo.pk])
    viewer = client_for(world, "viewer").get(url).content.decode()
    editor = client_for(world, "editor").get(url).content.decode()
    admin = client_for(world, "admin").get(url).content.decode()
    assert 'id="upload"' not in viewer and edit not in viewer and test not in viewer
    assert 'id="upload"' in editor and edit not in editor and test not in editor
    assert 'id="upload"' in admin and edit in admin and test in admin
    retry = reverse("issue-retry", args=[world.a.issue.pk])
    assert retry not in client_for(world, "viewer").get(reverse("issue-list")).content.decode()
    assert retry in client_for(world, "editor").get(reverse("issue-list")).content.decode()
    assert retry not in client_for(world, "viewer").get(reverse("dashboard")).content.decode()
    assert retry in client_for(world, "editor").get(reverse("dashboard")).content.decode()
    create = reverse("finding-issue-create", args=[world.a.spare.pk])
    spare = reverse("finding-detail", args=[world.a.spare.pk])
    assert create not in client_for(world, "viewer").get(spare).content.decode()
    assert create in client_for(world, "editor").get(spare).content.decode()
    repositories = reverse("repository-list")
    assert reverse("repository-add") not in client_for(world, "editor").get(repositories).content.decode()
    assert reverse("repository-add") in client_for(world, "admin").get(repositories).content.decode()


# --- creating repositories --------------------------------------------------------------------------------

def test_api_create_defaults_to_the_only_team_the_user_admins(world):
    response = client_for(world, "admin").post("/api/v1/repositories/", {"name": "acme/new"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["team"] == world.alpha.pk
    assert Repository.objects.get(name="acme/new").team == world.alpha


def test_api_create_needs_a_team_when_the_user_admins_several(world):
    member(world.users["admin"], Role.ADMIN, world.beta)
    client = client_for(world, "admin")
    response = client.post("/api/v1/repositories/", {"name": "acme/new"}, format="json")
    assert response.status_code == 400
    assert "team" in response.json()
    response = client.post("/api/v1/repositories/", {"name": "acme/new", "team": world.beta.pk}, format="json")
    assert response.status_code == 201
    assert Repository.objects.get(name="acme/new").team == world.beta


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_api_create_needs_the_admin_role_somewhere(world, role):
    response = client_for(world, role).post("/api/v1/repositories/", {"name": "acme/new", "team": world.alpha.pk},
                                            format="json")
    assert response.status_code == 403
    assert not Repository.objects.filter(name="acme/new").exists()


def test_api_create_in_another_team_is_like_a_missing_team(world):
    client = client_for(world, "outsider")
    theirs = client.post("/api/v1/repositories/", {"name": "acme/new", "team": world.alpha.pk}, format="json")
    missing = client.post("/api/v1/repositories/", {"name": "acme/new", "team": 999999}, format="json")
    assert theirs.status_code == missing.status_code == 400
    assert theirs.json()["team"][0].replace(str(world.alpha.pk), "N") == missing.json()["team"][0].replace(
        "999999", "N")
    assert not Repository.objects.filter(name="acme/new").exists()


def test_api_cannot_move_a_repository_to_a_team_the_user_does_not_admin(world):
    response = client_for(world, "admin").patch(f"/api/v1/repositories/{world.a.repo.pk}/",
                                                {"team": world.beta.pk}, format="json")
    assert response.status_code == 400
    world.a.repo.refresh_from_db()
    assert world.a.repo.team == world.alpha


def test_web_add_form(world):
    form = {**_edit_form(world), "name": "acme/web-new"}
    for role in ("viewer", "editor"):
        client = client_for(world, role)
        assert client.get(reverse("repository-add")).status_code == 403
        assert client.post(reverse("repository-add"), form).status_code == 403
    outsider = client_for(world, "outsider").post(reverse("repository-add"), form)
    assert outsider.status_code == 200 and "team" in outsider.context["form"].errors  # alpha is not a choice
    admin = client_for(world, "admin")
    page = admin.get(reverse("repository-add"))
    assert list(page.context["form"].fields["team"].queryset) == [world.alpha]
    assert admin.post(reverse("repository-add"), {**form, "team": ""}).status_code == 302  # the only team
    assert Repository.objects.get(name="acme/web-new").team == world.alpha


def test_superuser_sees_every_team_in_the_add_form(world):
    page = client_for(world, "superuser").get(reverse("repository-add"))
    assert {world.alpha, world.beta} <= set(page.context["form"].fields["team"].queryset)


# --- the rules themselves -----------------------------------------------------------------------------------

def test_role_of(world, django_user_model):
    repo = world.a.repo
    assert team_selectors.role_of(world.users["viewer"], repo) == Role.VIEWER
    assert team_selectors.role_of(world.users["admin"], repo) == Role.ADMIN
    assert team_selectors.role_of(world.users["outsider"], repo) is None
    assert team_selectors.role_of(world.users["superuser"], repo) == Role.ADMIN
    assert team_selectors.role_of(None, repo) is None
    nobody = django_user_model.objects.create_user("nobody")
    assert list(team_selectors.repositories_for(nobody)) == []
    assert list(team_selectors.repositories_for(world.users["editor"], Role.EDITOR)) == [repo]
    assert list(team_selectors.repositories_for(world.users["viewer"], Role.EDITOR)) == []


def test_inactive_member_sees_nothing(world):
    viewer = world.users["viewer"]
    viewer.is_active = False
    viewer.save()
    assert list(team_selectors.repositories_for(viewer)) == []


def test_removing_a_membership_takes_access_away(world):
    client = client_for(world, "viewer")
    url = reverse("repository-detail", args=[world.a.repo.pk])
    assert client.get(url).status_code == 200
    Membership.objects.filter(user=world.users["viewer"]).delete()
    assert client.get(url).status_code == 404


def test_schema_is_unaffected_and_documents_team(world):
    response = client_for(world, "viewer").get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert "team" in schema["components"]["schemas"]["Repository"]["properties"]
    assert {"/api/v1/repositories/", "/api/v1/scans/", "/api/v1/findings/", "/api/v1/issues/"} <= set(schema["paths"])


def test_webhooks_need_no_user_only_the_signature(world, client):
    """Webhooks stay authenticated by the repository's signature: a bad one is 403 for anyone."""
    url = reverse("webhook", args=["github", world.a.repo.pk])
    response = client.post(url, b"{}", content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64, HTTP_X_GITHUB_EVENT="issues")
    assert response.status_code == 403


def test_admin_site_manages_teams_and_memberships(world):
    client = client_for(world, "superuser")
    assert client.get(reverse("admin:teams_team_changelist")).status_code == 200
    assert client.get(reverse("admin:teams_team_change", args=[world.alpha.pk])).status_code == 200
    assert client.get(reverse("admin:teams_membership_changelist")).status_code == 200
