import pytest
from rest_framework.test import APIClient

from findings.models import Finding, Scan
from tests.factories import RepositoryFactory, member

pytestmark = pytest.mark.django_db


def _upload(client, repo, path, **extra):
    with open(path, "rb") as handle:
        return client.post(f"/api/v1/repositories/{repo.pk}/scans/", {"file": handle, **extra}, format="multipart")


def test_requires_authentication():
    response = APIClient().get("/api/v1/repositories/")
    assert response.status_code in (401, 403)


def test_token_authentication(django_user_model):
    from rest_framework.authtoken.models import Token

    user = member(django_user_model.objects.create_user("bob"))
    token = Token.objects.create(user=user)
    RepositoryFactory(name="acme/web")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/v1/repositories/")
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["acme/web"]


def test_repository_crud(api_client):
    created = api_client.post("/api/v1/repositories/", {"name": "acme/api", "url": "https://github.com/acme/api"},
                              format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert api_client.patch(f"/api/v1/repositories/{pk}/", {"url": "https://x.example/acme"}, format="json").json()[
        "url"] == "https://x.example/acme"
    duplicate = api_client.post("/api/v1/repositories/", {"name": "acme/api"}, format="json")
    assert duplicate.status_code == 400 and "name" in duplicate.json()
    assert api_client.delete(f"/api/v1/repositories/{pk}/").status_code == 204


def test_upload_scan_and_read_findings(api_client, data_dir):
    repo = RepositoryFactory()
    response = _upload(api_client, repo, data_dir / "bandit/vulpy__scan1-baseline.bandit.json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "completed" and body["counts"]["new"] == 49

    scan = api_client.get(f"/api/v1/scans/{body['id']}/").json()
    assert scan["repository"] == repo.pk and scan["error"] == ""

    high = api_client.get("/api/v1/findings/", {"repository": repo.pk, "severity": "high", "page_size": 500}).json()
    expected = Finding.objects.filter(repository=repo, severity="high").count()
    assert expected > 0 and len(high["results"]) == expected
    assert {"next", "previous", "results"} <= high.keys()
    one = api_client.get(f"/api/v1/findings/{high['results'][0]['id']}/").json()
    assert len(one["fingerprint"]) == 64 and one["status"] == "open" and one["severity"] == "high"
    assert {"rule_id", "title", "file_path", "line"} <= one.keys()


def test_findings_pagination_follows_next(api_client, data_dir):
    repo = RepositoryFactory()
    _upload(api_client, repo, data_dir / "bandit/vulpy__scan1-baseline.bandit.json")
    seen, url = [], "/api/v1/findings/?page_size=20"
    while url:
        page = api_client.get(url).json()
        seen += [f["id"] for f in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 49


def test_upload_of_broken_file_is_400_and_writes_nothing(api_client, data_dir):
    repo = RepositoryFactory()
    response = _upload(api_client, repo, data_dir / "sarif-invalid/results-is-object-not-array__from-detekt.sarif")
    assert response.status_code == 400
    assert "runs[0].results" in response.json()["detail"]
    assert response.json()["scan"]["status"] == "failed"
    assert not Finding.objects.exists()


def test_upload_with_explicit_wrong_format_is_400(api_client, data_dir):
    repo = RepositoryFactory()
    response = _upload(api_client, repo, data_dir / "bandit/vulpy__scan1-baseline.bandit.json", format="sarif")
    assert response.status_code == 400 and response.json()["detail"]
    assert Scan.objects.get().status == "failed" and not Finding.objects.exists()


def test_schema_is_served(api_client):
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/repositories/{id}/scans/" in paths and "/api/v1/findings/" in paths
