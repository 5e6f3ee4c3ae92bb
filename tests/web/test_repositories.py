"""Repository list/detail, the add/edit form with its Tracker section, the connection test and scan upload."""

from __future__ import annotations

import re
import shutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from findings.models import Finding, Repository, Scan
from trackers.adapters import ConnectionResult
from trackers.crypto import decrypt
from trackers.models import TrackerConfig

from .factories import CANARY_TOKEN

pytestmark = pytest.mark.django_db

BASE = {"name": "acme/webapp", "url": "https://github.com/acme/webapp", "default_branch": "main"}


def form_data(tracker_type: str = "", **fields) -> dict:
    data = {**BASE, "tracker-type": tracker_type, "tracker-min_severity": "low", "tracker-labels": "",
            "tracker-auto_close": "on", "tracker-reopen_policy": "unless_accepted"}
    data.update({f"tracker-{k}" if not k.startswith(("name", "url", "default_branch")) else k: v
                 for k, v in fields.items()})
    return data


def field_error(html: str, field_id: str) -> str | None:
    """The error shown next to a field, checking that the input points at it."""
    match = re.search(rf'<div class="invalid-feedback" id="{field_id}_error">(.*?)</div>', html, re.S)
    if not match:
        return None
    widget = re.search(rf'<(input|select|textarea)[^>]*id="{field_id}"[^>]*>', html).group(0)
    assert "is-invalid" in widget and 'aria-invalid="true"' in widget
    assert f"{field_id}_error" in re.search(r'aria-describedby="([^"]*)"', widget).group(1)
    return match.group(1).strip()


def test_add_repository_with_github_tracker(web):
    response = web.post(reverse("repository-add"), form_data(
        "github", github_repository="acme/webapp", github_token=CANARY_TOKEN, labels="security, certifai ,security",
        min_severity="medium",
    ))
    repo = Repository.objects.get(name="acme/webapp")
    assert response.status_code == 302 and response["Location"] == reverse("repository-detail", args=[repo.pk])
    config = repo.tracker
    assert config.type == "github" and config.repo_path == "acme/webapp"
    assert config.api_url == "https://api.github.com"  # the default, when left blank
    assert decrypt(config.token_encrypted) == CANARY_TOKEN
    assert config.labels == ["security", "certifai"] and config.min_severity == "medium" and config.auto_close
    detail = web.get(response["Location"]).content.decode()
    assert "Saved acme/webapp." in detail and CANARY_TOKEN not in detail


def test_no_tracker_is_a_choice(web):
    response = web.post(reverse("repository-add"), form_data(""))
    assert response.status_code == 302
    assert not TrackerConfig.objects.exists()


@pytest.mark.parametrize(("tracker_type", "fields", "errors"), [
    ("github", {}, {"github_repository": "required for a GitHub tracker", "github_token": "an access token"}),
    ("github", {"github_repository": "not a repo", "github_token": "t"},
     {"github_repository": 'expected &quot;owner/name&quot;'}),
    ("gitlab", {"gitlab_token": "t"}, {"gitlab_project_id": "required for a GitLab tracker"}),
    ("gitea", {"gitea_repository": "a/b"}, {"gitea_instance_url": "required for a Gitea tracker",
                                            "gitea_token": "required"}),
    ("jira", {"jira_project_key": "sec", "jira_instance_url": "https://acme.atlassian.net", "jira_token": "t",
              "labels": "needs review"},
     {"jira_project_key": "expected a Jira project key", "labels": "Jira labels can&#x27;t contain spaces"}),
    ("jira", {"jira_project_key": "SEC", "jira_instance_url": "not a url", "jira_token": "t"},
     {"jira_instance_url": "Enter a valid URL"}),
])
def test_per_tracker_errors_next_to_their_fields(web, tracker_type, fields, errors):
    response = web.post(reverse("repository-add"), form_data(tracker_type, **fields))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not saved:" in html
    for name, text in errors.items():
        message = field_error(html, f"id_tracker-{name}")
        assert message is not None and text.lower() in message.lower(), (name, message)
    # the other trackers' fields carry no error
    other = {"github", "gitlab", "gitea", "jira"} - {tracker_type}
    for kind in other:
        assert not re.search(rf'id="id_tracker-{kind}_[a-z_]+_error"', html)
    assert not Repository.objects.exists()


def test_form_shows_exactly_each_trackers_fields_in_its_own_section(web):
    html = web.get(reverse("repository-add")).content.decode()
    sections = dict(re.findall(r'data-tracker-fields="(\w+)"(.*?)</fieldset>', html, re.S))
    names = {kind: re.findall(r'name="tracker-(\w+)"', body) for kind, body in sections.items()}
    assert names == {
        "github": ["github_repository", "github_token", "github_api_url"],
        "gitlab": ["gitlab_project_id", "gitlab_instance_url", "gitlab_token"],
        "gitea": ["gitea_repository", "gitea_instance_url", "gitea_token"],
        "jira": ["jira_project_key", "jira_instance_url", "jira_email", "jira_token", "jira_issue_type"],
    }
    assert '<option value="" selected>No tracker</option>' in html
    for common in ("min_severity", "labels", "auto_close", "reopen_policy"):
        assert f'name="tracker-{common}"' in html
    # without JavaScript every section is visible with its heading
    assert "GitHub settings" in html and "Jira settings" in html
    assert " hidden" not in re.search(r'<fieldset[^>]*data-tracker-fields="jira"[^>]*>', html).group(0)


def test_edit_keeps_the_saved_token_when_left_blank_and_never_renders_it(web, f):
    repo = f.repository("acme/webapp")
    f.tracker(repo, "github", labels=["security"])
    edit = web.get(reverse("repository-edit", args=[repo.pk])).content.decode()
    assert CANARY_TOKEN not in edit
    token_input = re.search(r'<input[^>]*name="tracker-github_token"[^>]*>', edit).group(0)
    assert 'type="password"' in token_input and "value=" not in token_input
    assert re.search(r'Token\s*<span class="badge[^"]*">saved</span>', edit)
    assert "Leave blank to keep it" in edit
    assert 'value="security"' in edit  # labels as comma-separated text

    response = web.post(reverse("repository-edit", args=[repo.pk]), form_data(
        "github", github_repository="acme/other", github_token="", labels="security, sast"))
    assert response.status_code == 302
    config = TrackerConfig.objects.get(repository=repo)
    assert config.repo_path == "acme/other" and decrypt(config.token_encrypted) == CANARY_TOKEN
    assert config.labels == ["security", "sast"]


def test_a_form_with_errors_does_not_echo_a_typed_token(web, f):
    repo = f.repository("acme/webapp")
    f.tracker(repo, "github")
    response = web.post(reverse("repository-edit", args=[repo.pk]), form_data(
        "github", github_repository="", github_token="ghp_TYPED-but-invalid-form-123"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "ghp_TYPED-but-invalid-form-123" not in html and CANARY_TOKEN not in html
    assert field_error(html, "id_tracker-github_repository")
    assert field_error(html, "id_tracker-github_token") is None  # a token is saved: blank keeps it


def test_changing_tracker_type_needs_a_new_token_and_removing_it_deletes(web, f):
    repo = f.repository("acme/webapp")
    f.tracker(repo, "github")
    response = web.post(reverse("repository-edit", args=[repo.pk]), form_data(
        "jira", jira_project_key="SEC", jira_instance_url="https://acme.atlassian.net"))
    assert response.status_code == 200
    assert "required for a jira tracker" in field_error(response.content.decode(), "id_tracker-jira_token").lower()
    response = web.post(reverse("repository-edit", args=[repo.pk]), form_data(
        "jira", jira_project_key="SEC", jira_instance_url="https://acme.atlassian.net", jira_token="jira-tok",
        jira_email="bot@example.com", jira_issue_type=""))
    assert response.status_code == 302
    config = TrackerConfig.objects.get(repository=repo)
    assert (config.type, config.project_key, config.issue_type, config.repo_path) == ("jira", "SEC", "Bug", "")
    assert decrypt(config.token_encrypted) == "jira-tok"
    web.post(reverse("repository-edit", args=[repo.pk]), form_data(""))
    assert not TrackerConfig.objects.filter(repository=repo).exists()


def test_saving_unpauses_a_paused_sync(web, f):
    repo = f.repository("acme/webapp")
    config = f.tracker(repo, "github")
    TrackerConfig.objects.filter(pk=config.pk).update(sync_paused=True, sync_error="Sync paused: Bad credentials.")
    detail = web.get(reverse("repository-detail", args=[repo.pk])).content.decode()
    assert "Sync paused: Bad credentials." in detail
    web.post(reverse("repository-edit", args=[repo.pk]), form_data("github", github_repository="acme/app",
                                                                   github_token="ghp_new"))
    config.refresh_from_db()
    assert not config.sync_paused


def test_duplicate_repository_name_is_an_inline_error(web, f):
    f.repository("acme/webapp")
    html = web.post(reverse("repository-add"), form_data("")).content.decode()
    assert "already exists" in field_error(html, "id_name")


def test_test_connection_with_htmx_shows_the_result_inline(web, f, monkeypatch):
    repo = f.repository("acme/webapp")
    f.tracker(repo, "github")
    seen = []

    def fake_test(config):
        seen.append(config.repository_id)
        return ConnectionResult(True, "Token valid; acme/app exists and accepts issues.")

    monkeypatch.setattr("trackers.services.test_connection", fake_test)
    url = reverse("repository-tracker-test", args=[repo.pk])
    response = web.post(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and seen == [repo.pk]
    assert "Connection works." in html and "acme/app exists" in html
    # the page holds the status region the result is swapped into, and the button posts there
    for page in ("repository-detail", "repository-edit"):
        page_html = web.get(reverse(page, args=[repo.pk])).content.decode()
        assert '<div id="tracker-test-result" role="status" aria-live="polite">' in page_html
        assert f'hx-post="{url}"' in page_html


def test_test_connection_without_js_redirects_with_a_message(web, f, monkeypatch):
    repo = f.repository("acme/webapp")
    f.tracker(repo, "github")
    monkeypatch.setattr("trackers.services.test_connection",
                        lambda config: ConnectionResult(False, "GitHub refused the token (401 Bad credentials)."))
    edit = reverse("repository-edit", args=[repo.pk])
    response = web.post(reverse("repository-tracker-test", args=[repo.pk]), {"next": edit}, follow=True)
    assert response.redirect_chain[-1][0] == edit
    assert "Connection test: GitHub refused the token" in response.content.decode()


def test_test_connection_without_tracker(web, f):
    repo = f.repository("acme/webapp")
    html = web.post(reverse("repository-tracker-test", args=[repo.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "no tracker configured" in html


def test_repository_list_and_detail(web, f):
    repo = f.repository("acme/webapp")
    f.tracker(repo, "gitea")
    scan = f.scan(repo)
    for severity in ("critical", "high", "high", "low"):
        f.finding(repo, severity, seen_in=[scan])
    f.finding(repo, "high", status="resolved")
    listing = web.get(reverse("repository-list")).content.decode()
    assert "acme/webapp" in listing and "tracker-gitea" in listing
    assert re.search(r'status=open">4<span class="visually-hidden"> open findings', listing)
    detail = web.get(reverse("repository-detail", args=[repo.pk])).content.decode()
    counts = dict(re.findall(r'severity=(\w+)&amp;status=open">\s*<span class="severity-count">(\d+)</span>', detail))
    assert counts == {"critical": "1", "high": "2", "medium": "0", "low": "1", "info": "0"}
    assert f'id="scan-{scan.pk}"' in detail
    assert 'enctype="multipart/form-data"' in detail


# --- scan upload ------------------------------------------------------------------------------------


@pytest.fixture
def bandit_scan(data_dir):
    path = data_dir / "bandit" / "vulpy__scan1-baseline.bandit.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: copy it from /work/shared/data (see tests/data/MANIFEST.md)")
    return path


def test_upload_a_scan_and_see_its_counts(web, f, bandit_scan):
    repo = f.repository("vulpy")
    with bandit_scan.open("rb") as handle:
        response = web.post(reverse("repository-detail", args=[repo.pk]), {"file": handle, "format": "auto"})
    scan = Scan.objects.get(repository=repo)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('repository-detail', args=[repo.pk])}?scan={scan.pk}#upload-result"
    assert scan.status == "completed" and scan.file_name == bandit_scan.name
    html = web.get(response["Location"]).content.decode()
    result = html[html.index('id="upload-result"'):]
    assert f"Scan #{scan.pk}" in result and f"{scan.counts['new']} new" in result
    assert Finding.objects.filter(repository=repo).count() == scan.counts["new"] > 0


def test_big_upload_is_kept_on_disk(web, f, bandit_scan, settings, tmp_path):
    """Uploads above FILE_UPLOAD_MAX_MEMORY_SIZE arrive as temporary files and are imported from there."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    repo = f.repository("vulpy")
    copy = tmp_path / "scan.json"
    shutil.copy(bandit_scan, copy)
    with copy.open("rb") as handle:
        response = web.post(reverse("repository-detail", args=[repo.pk]), {"file": handle, "format": "bandit"})
    assert response.status_code == 302
    assert Scan.objects.get(repository=repo).status == "completed"


def test_rejected_upload_shows_the_error_and_changes_nothing(web, f):
    repo = f.repository("vulpy")
    bad = SimpleUploadedFile("broken.sarif", b'{"version": "2.1.0", "runs": {}}', content_type="application/json")
    response = web.post(reverse("repository-detail", args=[repo.pk]), {"file": bad, "format": "sarif"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "The scan was rejected; nothing was changed." in html and "broken.sarif:" in html
    scan = Scan.objects.get(repository=repo)
    assert scan.status == "failed" and scan.error
    assert not Finding.objects.exists()


def test_upload_without_a_file_is_an_inline_error(web, f):
    repo = f.repository("vulpy")
    response = web.post(reverse("repository-detail", args=[repo.pk]), {"format": "auto"})
    assert response.status_code == 200
    assert "required" in field_error(response.content.decode(), "id_file").lower()
    assert not Scan.objects.exists()


def test_upload_over_the_size_limit(web, f, settings):
    settings.CERTIFAI_MAX_UPLOAD_SIZE = 5
    repo = f.repository("vulpy")
    big = SimpleUploadedFile("big.json", b"0123456789")
    response = web.post(reverse("repository-detail", args=[repo.pk]), {"file": big, "format": "auto"})
    assert response.status_code == 200
    assert "the limit is 5 bytes" in field_error(response.content.decode(), "id_file")


@pytest.mark.parametrize(("tracker", "form_fields", "api_fields", "field"), [
    ("github", {"github_repository": "no-slash", "github_token": "t"}, {"repository": "no-slash", "token": "t"},
     "repository"),
    ("jira", {"jira_project_key": "lower", "jira_instance_url": "https://j.example.com", "jira_token": "t"},
     {"project_key": "lower", "instance_url": "https://j.example.com", "token": "t"}, "project_key"),
    ("gitlab", {"gitlab_token": "t"}, {"token": "t"}, "project_id"),
])
def test_form_and_api_apply_the_same_rules(web, api_client, tracker, form_fields, api_fields, field):
    api = api_client.post("/api/v1/repositories/", {"name": "acme/api", "tracker": {"type": tracker, **api_fields}},
                          format="json")
    assert api.status_code == 400
    api_message = api.json()["tracker"][field][0]
    html = web.post(reverse("repository-add"), form_data(tracker, **form_fields)).content.decode()
    form_message = field_error(html, f"id_tracker-{tracker}_{field}")
    assert form_message.rstrip(".").lower().replace("&quot;", '"') == api_message.rstrip(".").lower()
