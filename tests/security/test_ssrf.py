"""SSRF: tracker URLs reach public addresses only, unless CERTIFAI_TRACKER_ALLOWED_HOSTS allows the host.

The name resolution is controlled by the `resolver` fixture (socket.getaddrinfo patched: the names below exist
only here), and the trackers are the fakes on 127.0.0.1, spoken to through each real adapter and its real client
library (PyGithub, python-gitlab, requests for Gitea, jira), over real sockets. What a refusal must prove: the
adapter raises TrackerConfigError (not retried) whose message names the host and the reason, test_connection
says so, and the refused server received no request at all.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from tests.factories import member
from trackers import netguard
from trackers.adapters import TrackerConfigError, TrackerSettings, get_adapter
from trackers.adapters.base import IssueContent
from trackers.fakes.base import Fault
from trackers.fakes.gitea import FakeGitea
from trackers.fakes.github import FakeGitHub
from trackers.fakes.gitlab import FakeGitLab
from trackers.fakes.jira import FakeJira
from trackers.netguard import AllowList, Refusal, check_connection, refused_reason

TOKEN = "ssrf-test-token-7c1f0e9d2b4a"  # noqa: S105 - a fake tracker's credential
KINDS = ("github", "gitlab", "gitea", "jira")
PUBLIC = "93.184.216.34"  # never connected to: every test that resolves to it is refused before connecting
ISSUE_ID = {"github": "1", "gitlab": "1", "gitea": "1", "jira": "SEC-1"}


# --- fixtures --------------------------------------------------------------------------------------------------


class Resolver:
    """socket.getaddrinfo for made-up names: a list of addresses, or a function of the call number (1, 2, ...)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.names: dict[str, list[str] | Callable[[int], list[str]]] = {}
        self.calls: Counter[str] = Counter()
        real = socket.getaddrinfo

        def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's own names
            name = (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")
            if name not in self.names:
                return real(host, port, family, type, proto, flags)
            self.calls[name] += 1
            answer = self.names[name]
            addresses = answer(self.calls[name]) if callable(answer) else answer
            port = int(port or 0)
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def add(self, name: str, *addresses: str) -> None:
        self.names[name] = list(addresses)

    def flip(self, name: str, answer: Callable[[int], list[str]]) -> None:
        self.names[name] = answer


@pytest.fixture
def resolver(monkeypatch) -> Resolver:
    return Resolver(monkeypatch)


def start_fake(kind: str):
    if kind == "github":
        fake = FakeGitHub(tokens={TOKEN: {"login": "bot", "repos": {"acme/app": "write"}}})
    elif kind == "gitlab":
        fake = FakeGitLab()
        fake.add_user("bot", token=TOKEN)
        fake.add_project("acme/app", project_id=1, members={"bot": 30})
    elif kind == "gitea":
        fake = FakeGitea()
        fake.add_token("bot", TOKEN, scopes=("write:issue", "read:repository", "read:user"))
        fake.add_repo("acme/app", members={"bot": "write"})
    else:
        fake = FakeJira(deployment="datacenter", token=TOKEN, project_key="SEC")
    return fake.start()


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def fake(kind):
    server = start_fake(kind)
    yield server
    server.stop()


@pytest.fixture
def other(kind):
    """A second server of the same kind: where a redirect points, which must never be reached."""
    server = start_fake(kind)
    yield server
    server.stop()


def port_of(server) -> int:
    return server.httpd.server_address[1]


def adapter_for(kind: str, base_url: str, allowed: tuple[str, ...] = ()):
    url_field = "api_url" if kind == "github" else "instance_url"
    values = {"github": {"repository": "acme/app"}, "gitlab": {"project_id": "acme/app"},
              "gitea": {"repository": "acme/app"}, "jira": {"project_key": "SEC", "email": ""}}[kind]
    adapter = get_adapter(TrackerSettings(type=kind, token=TOKEN, timeout=3.0, allowed_hosts=allowed,
                                          **{url_field: base_url}, **values))
    if hasattr(adapter, "RETRY_BACKOFF"):
        adapter.RETRY_BACKOFF = 0.01
    return adapter


def content() -> IssueContent:
    return IssueContent(fingerprint="fp-ssrf-1", severity="high", rule_id="sqli", rule_title="SQL injection",
                        description="d", file_path="app/db.py", start_line=3, end_line=3, tool="semgrep",
                        finding_url="https://certifai.example/findings/1")


def refused(adapter, *words: str) -> TrackerConfigError:
    """test_connection reports the refusal, and a write raises it as a TrackerConfigError (not retried)."""
    result = adapter.test_connection()
    assert not result.ok
    for word in words:
        assert word in result.message, result.message
    assert TOKEN not in result.message
    with pytest.raises(TrackerConfigError) as caught:
        adapter.create_issue(content())
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert TOKEN not in str(caught.value)
    return caught.value


# --- the address rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.5.4", "private"), ("192.168.0.1", "private"),
    ("169.254.10.20", "link-local"), ("fe80::1", "link-local"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("100.100.100.200", "metadata"),
    ("169.254.170.2", "metadata"), ("168.63.129.16", "metadata"),
    ("fd12:3456::1", "unique-local"), ("fc00::1", "unique-local"),
    ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),  # noqa: S104 - an address under test, not a bind
    ("100.64.0.1", "not publicly routable"), ("240.0.0.1", "address"), ("192.0.2.1", "address"),
    # IPv6 forms that stand for an IPv4 address are judged by it
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "metadata"), ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "metadata"), ("::127.0.0.1", "loopback"), ("2002:7f00:1::1", "loopback"),
])
def test_non_public_addresses_are_refused(address, reason):
    assert reason in refused_reason(address)


@pytest.mark.parametrize("address", ["8.8.8.8", PUBLIC, "140.82.112.3", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert refused_reason(address) is None
    check_connection("tracker.example", address, AllowList(), tls=True)


def test_allow_list_takes_host_names_addresses_and_cidrs():
    allow = AllowList.parse([" Jira.Internal. ", "10.0.0.0/8", "[::1]", "192.168.7.7", "https://gitea.lan:3000/",
                             "fd00::/8", "not/a/cidr", ""])
    assert allow.allows_host("jira.internal") and allow.allows_host("JIRA.INTERNAL.")
    assert allow.allows_host("gitea.lan") and not allow.allows_host("internal")
    assert allow.allows_address(ipaddress.ip_address("10.200.3.4"))
    assert not allow.allows_address(ipaddress.ip_address("11.0.0.1"))
    assert allow.allows_address(ipaddress.ip_address("::ffff:10.0.0.9"))  # the mapped form of an allowed address
    assert allow.allows_address(ipaddress.ip_address("::1"))
    assert not allow.allows_address(ipaddress.ip_address("127.0.0.1"))  # ::1 allows ::1, not IPv4 loopback
    assert allow.allows_host("192.168.7.7") and not allow.allows_host("192.168.7.8")
    assert AllowList.parse("a.example, 10.0.0.0/8") == AllowList.parse(["a.example", "10.0.0.0/8"])


def test_connection_rules():
    private = AllowList.parse(["jira.internal", "10.0.0.0/8"])
    check_connection("jira.internal", "192.168.1.5", private, tls=False)  # allowed by name: any private address
    check_connection("gitea.corp", "10.4.4.4", private, tls=False)  # allowed by address
    with pytest.raises(Refusal, match="gitea.corp resolves to 192.168.1.5, a private address"):
        check_connection("gitea.corp", "192.168.1.5", private, tls=True)
    with pytest.raises(Refusal, match="plain http to tracker.example is refused: use https://tracker.example"):
        check_connection("tracker.example", PUBLIC, private, tls=False)
    # A metadata address is never a tracker: an allowed name that resolves there is still refused ...
    with pytest.raises(Refusal, match="cloud metadata"):
        check_connection("jira.internal", "169.254.169.254", private, tls=True)
    # ... unless that very address is listed.
    check_connection("jira.internal", "169.254.169.254", AllowList.parse(["169.254.169.254"]), tls=True)


def test_save_time_problem_for_urls(resolver):
    resolver.add("internal.test", "10.9.8.7")
    resolver.add("public.test", PUBLIC)
    assert "internal.test resolves to 10.9.8.7, a private address" in netguard.url_problem(
        "https://internal.test/jira", [])
    assert netguard.url_problem("https://internal.test/jira", ["internal.test"]) is None
    assert netguard.url_problem("https://internal.test/jira", ["10.0.0.0/8"]) is None
    assert netguard.url_problem("https://public.test", []) is None
    assert "use https://public.test…" in netguard.url_problem("http://public.test", [])
    assert "use https://nowhere.invalid" in netguard.url_problem("http://nowhere.invalid", [])
    assert netguard.url_problem("https://nowhere.invalid", []) is None  # not resolvable now: checked at connect time
    assert "https://" in netguard.url_problem("ftp://public.test", [])


def test_proxies_get_the_name_checked_before_the_request(resolver):
    resolver.add("evil.test", "169.254.169.254")
    session = netguard.guard_session(requests.Session(), [])
    with pytest.raises(netguard.AddressRefused, match="evil.test resolves to 169.254.169.254"):
        session.get("https://evil.test/latest/meta-data/", proxies={"https": "http://127.0.0.1:9"}, timeout=2)


# --- at connect time, through every adapter ---------------------------------------------------------------------


def test_allowed_name_connects(kind, fake, resolver):
    """The control for what follows: the same fake, reached by a name that is allowed, works."""
    resolver.add("tracker.test", "127.0.0.1")
    result = adapter_for(kind, f"http://tracker.test:{port_of(fake)}", ("tracker.test",)).test_connection()
    assert result.ok, result.message


def test_name_resolving_to_loopback_is_refused_at_connect_time(kind, fake, resolver):
    resolver.add("evil.test", "127.0.0.1")
    refused(adapter_for(kind, f"https://evil.test:{port_of(fake)}"),
            "evil.test resolves to 127.0.0.1, a loopback address", "CERTIFAI_TRACKER_ALLOWED_HOSTS")
    assert fake.requests == []


@pytest.mark.parametrize(("address", "reason"), [
    ("169.254.169.254", "a cloud metadata address"), ("fd00:ec2::254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"), ("10.0.0.5", "a private address"),
    ("::1", "a loopback address"), ("::ffff:127.0.0.1", "a loopback address in IPv6 form"),
    ("fe80::1", "a link-local address"), ("fd12::7", "a unique-local address"),
])
def test_names_resolving_to_internal_addresses_are_refused(kind, resolver, address, reason):
    resolver.add("evil.test", address)
    refused(adapter_for(kind, "https://evil.test"), f"evil.test resolves to {address}, {reason}")


def test_one_internal_address_among_public_ones_is_refused(kind, resolver):
    resolver.add("mixed.test", PUBLIC, "127.0.0.1")
    refused(adapter_for(kind, "https://mixed.test"), "mixed.test resolves to 127.0.0.1")


@pytest.mark.parametrize(("url", "words"), [
    ("https://127.0.0.1:{port}", "127.0.0.1 is a loopback address"),
    ("https://[::1]:{port}", "::1 is a loopback address"),
    ("https://[::ffff:127.0.0.1]:{port}", "loopback address in IPv6 form"),
    ("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "cloud metadata address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://0.0.0.0:{port}", "unspecified"),
])
def test_address_literals_are_refused(kind, fake, url, words):
    adapter = adapter_for(kind, url.format(port=port_of(fake)))
    if kind == "github" and "[" in url:
        # PyGithub can't speak to an IPv6 literal at all (it drops the brackets): never connects, fails closed.
        assert not adapter.test_connection().ok
    else:
        refused(adapter, words)
    assert fake.requests == []


def test_dns_rebinding_between_check_and_connect_is_caught_on_the_socket(kind, fake, resolver):
    """The guard's own lookup says public, the one urllib3 connects with says 127.0.0.1: the socket reaches the
    fake, and the peer address check refuses it before a byte is sent."""
    resolver.flip("flip.test", lambda n: [PUBLIC] if n % 2 else ["127.0.0.1"])
    error = refused(adapter_for(kind, f"https://flip.test:{port_of(fake)}"), "flip.test resolves to 127.0.0.1")
    assert "loopback" in str(error)
    assert resolver.calls["flip.test"] >= 4  # checked, then connected, for each of the two calls
    assert fake.requests == []


def test_http_is_refused_unless_allowed(kind, resolver):
    resolver.add("public.test", PUBLIC)
    refused(adapter_for(kind, "http://public.test"), "plain http to public.test is refused",
            "use https://public.test")


def test_cidr_allow_list(kind, fake, resolver):
    resolver.add("tracker.test", "127.0.0.1")
    url = f"http://tracker.test:{port_of(fake)}"
    assert adapter_for(kind, url, ("127.0.0.0/8",)).test_connection().ok
    assert adapter_for(kind, url, ("10.0.0.0/8", "::1/128", "other.test")).test_connection().ok is False
    assert fake.requests_to("GET", ".") and len({r.path for r in fake.requests}) >= 1


# --- redirects --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["http://internal.test:{port}", "http://localhost:{port}",
                                    "http://169.254.169.254", "http://[::ffff:127.0.0.1]:{port}"])
def test_redirect_to_an_address_not_allowed_is_refused(kind, fake, other, resolver, target):
    """The tracker is allowed by its name; it redirects a read to a name (or address) that is not allowed, on the
    same machine: the hop is refused, and the second server never hears of it."""
    resolver.add("tracker.test", "127.0.0.1")
    resolver.add("internal.test", "127.0.0.1")
    location = target.format(port=port_of(other)) + "/api/v4/projects/1/issues/1"
    # 301: followed for a GET by requests (GitLab, Gitea, Jira) and, to the same host only, by PyGithub.
    fake.add_fault(Fault("status", status=301, headers={"Location": location}, body=""), method="GET", times=5)
    adapter = adapter_for(kind, f"http://tracker.test:{port_of(fake)}", ("tracker.test",))
    with pytest.raises(TrackerConfigError) as caught:
        adapter.get_issue(ISSUE_ID[kind])
    assert other.requests == []
    assert fake.requests, "the first hop went to the allowed tracker"
    message = str(caught.value)
    assert TOKEN not in message
    if kind != "github":  # PyGithub refuses a redirect to another host itself, before netguard sees it
        assert "Certifai refused to connect" in message and "CERTIFAI_TRACKER_ALLOWED_HOSTS" in message


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_writes_never_follow_redirects(kind, fake, resolver, status):
    """Even to the same, allowed tracker: a redirected write is not sent again."""
    resolver.add("tracker.test", "127.0.0.1")
    base = f"http://tracker.test:{port_of(fake)}"
    fake.add_fault(Fault("status", status=status, headers={"Location": f"{base}/moved"}, body=""), method="POST")
    adapter = adapter_for(kind, base, ("tracker.test",))
    with pytest.raises(TrackerConfigError, match="redirect") as caught:
        adapter.create_issue(content())
    assert "tracker.test" in str(caught.value)
    assert len(fake.requests_to("POST", ".")) == 1
    assert not [r for r in fake.requests if r.path.endswith("/moved")]


def test_every_adapter_session_is_guarded(kind, fake):
    adapter = adapter_for(kind, fake.url, ("127.0.0.1",))
    assert adapter.test_connection().ok
    if kind == "github":
        session = adapter.client.requester._Requester__connection.session
    elif kind == "jira":
        session = adapter._jira()._session
    else:
        session = adapter._session
    assert netguard.is_guarded(session)


# --- at save time: the API and the web form, and then at connect time ------------------------------------------

URL_FIELD = {"github": "api_url", "gitlab": "instance_url", "gitea": "instance_url", "jira": "instance_url"}
FIELDS = {"github": {"repository": "acme/app"}, "gitlab": {"project_id": "acme/app"},
          "gitea": {"repository": "acme/app"}, "jira": {"project_key": "SEC"}}


def save_via_api(api_client, kind: str, url: str, name: str = "acme/app"):
    tracker = {"type": kind, "token": TOKEN, URL_FIELD[kind]: url, **FIELDS[kind]}
    return api_client.post("/api/v1/repositories/", {"name": name, "tracker": tracker}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(("address", "words"), [
    ("127.0.0.1", "a loopback address"), ("169.254.169.254", "a cloud metadata address"),
    ("10.1.2.3", "a private address"), ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address in IPv6 form"), ("fd12::1", "a unique-local address"),
    ("fd00:ec2::254", "a cloud metadata address"),
])
def test_api_refuses_internal_names_at_save_time(api_client, settings, kind, resolver, address, words):
    settings.TRACKER_ALLOWED_HOSTS = []
    resolver.add("internal.test", address)
    response = save_via_api(api_client, kind, "https://internal.test")
    assert response.status_code == 400
    error = str(response.json()["tracker"][URL_FIELD[kind]])
    assert f"internal.test resolves to {address}, {words}" in error
    assert "CERTIFAI_TRACKER_ALLOWED_HOSTS" in error


@pytest.mark.django_db
def test_api_http_needs_the_host_allowed(api_client, settings, kind, resolver):
    resolver.add("public.test", PUBLIC)
    response = save_via_api(api_client, kind, "http://public.test")
    assert response.status_code == 400
    error = str(response.json()["tracker"][URL_FIELD[kind]])
    assert "use https://public.test…, or add the host to CERTIFAI_TRACKER_ALLOWED_HOSTS for a self-hosted tracker " \
           "on a private network" in error
    assert save_via_api(api_client, kind, "https://public.test", name="acme/https").status_code == 201
    settings.TRACKER_ALLOWED_HOSTS = ["public.test"]
    assert save_via_api(api_client, kind, "http://public.test", name="acme/allowed").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("allowed", [["internal.test"], ["10.0.0.0/8"], ["10.1.2.3"]])
def test_api_accepts_internal_names_that_are_allowed(api_client, settings, kind, resolver, allowed):
    resolver.add("internal.test", "10.1.2.3")
    settings.TRACKER_ALLOWED_HOSTS = allowed
    assert save_via_api(api_client, kind, "http://internal.test:8080").status_code == 201


@pytest.mark.django_db
def test_web_form_refuses_internal_names(client, django_user_model, resolver):
    from django.urls import reverse

    resolver.add("metadata.test", "169.254.169.254")
    client.force_login(member(django_user_model.objects.create_user("ssrf-web", password="pw-ssrf-web-123")))
    data = {"name": "acme/webapp", "url": "", "default_branch": "main", "tracker-type": "jira",
            "tracker-min_severity": "low", "tracker-labels": "", "tracker-auto_close": "on",
            "tracker-reopen_policy": "unless_accepted", "tracker-jira_project_key": "SEC",
            "tracker-jira_instance_url": "https://metadata.test", "tracker-jira_token": TOKEN}
    response = client.post(reverse("repository-add"), data)
    assert response.status_code == 200  # the form again, with the error at the field
    html = response.content.decode()
    assert "The host metadata.test resolves to 169.254.169.254, a cloud metadata address" in html
    assert 'id="id_tracker-jira_instance_url_error"' in html
    data["tracker-jira_instance_url"] = "http://metadata.test"
    assert "metadata.test resolves to 169.254.169.254" in client.post(reverse("repository-add"), data).content.decode()


@pytest.mark.django_db
def test_dns_rebinding_after_save_is_refused_at_connect_time(api_client, kind, resolver):
    """Public when saved, the metadata address when connected to: the connection test and the pipeline's calls
    are refused, with a message that names the host and the reason."""
    from issues import services as issue_services
    from trackers import services as tracker_services
    from trackers.models import TrackerConfig

    resolver.add("rebind.test", PUBLIC)
    response = save_via_api(api_client, kind, "https://rebind.test")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    resolver.add("rebind.test", "169.254.169.254")
    result = api_client.post(f"/api/v1/repositories/{pk}/tracker/test/").json()
    assert result["ok"] is False
    assert "rebind.test resolves to 169.254.169.254, a cloud metadata address" in result["message"]
    adapter = issue_services.get_adapter(tracker_services.tracker_settings(TrackerConfig.objects.get(
        repository_id=pk)))
    with pytest.raises(TrackerConfigError, match="rebind.test resolves to 169.254.169.254"):
        adapter.create_issue(content())


@pytest.mark.django_db
def test_tracker_settings_carry_the_allowed_hosts(settings):
    from findings.models import Repository
    from trackers import services as tracker_services

    settings.TRACKER_ALLOWED_HOSTS = ["jira.internal", "10.0.0.0/8"]
    repository = Repository.objects.create(name="acme/app")
    config = tracker_services.save_tracker(repository, {"type": "jira", "project_key": "SEC", "token": TOKEN,
                                                        "instance_url": "https://jira.internal"})
    assert tracker_services.tracker_settings(config).allowed_hosts == ("jira.internal", "10.0.0.0/8")
