"""Browser tests: Playwright (Python) driving the distribution's Chromium against pytest-django's live_server.

Never downloads a browser: Chromium is /usr/bin/chromium (apt-get install chromium; .ci/run does it).
Every page visited gets an axe-core check (tests/vendor/axe.min.js): no serious or critical violation.
Screenshots go to tests/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.factories import member

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PASSWORD = "pw-browser-user-123"
BLOCKING_IMPACTS = ("serious", "critical")
AXE_PATH = "/__tests__/axe.min.js"  # served by the browser context itself, from our own origin
# The strict policy the pages are written for (no inline script, style or handler, no eval). The tests add
# it to every page of the app, so a violation shows as a console error and fails the test.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (Playwright must not download a browser)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the Django ORM calls the tests make between
    # browser steps are synchronous and safe here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def tracker_hosts(settings):
    """Fake trackers listen on loopback: allow it as a self-hosted tracker would be allowed."""
    settings.TRACKER_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.CERTIFAI_RATE_SCALE = 60.0  # the trackers' documented limits, compressed (see trackers/pacing.py)
    return settings


class UI:
    """A page plus the checks every test makes: axe on each page, screenshots, console errors."""

    def __init__(self, page, base_url: str, name: str):
        self.page = page
        self.base_url = base_url
        self.name = name
        self.shots = 0
        self.axe_results: dict[str, int] = {}
        self.console_errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        self.page.goto(self.url(path))
        return self.page

    def axe(self, label: str) -> None:
        """Inject axe-core and fail on any serious or critical violation of the page as it is now."""
        self.page.mouse.move(0, 0)  # no hover state or half-run transition in the colours checked
        self.page.wait_for_timeout(250)
        self.page.add_script_tag(url=self.base_url + AXE_PATH)
        result = self.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        blocking = [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]
        self.axe_results[label] = [f"{v['id']}:{v['impact']}" for v in result["violations"]]
        details = "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']}\n    "
            + "\n    ".join(node["html"][:200] for node in v["nodes"][:5])
            for v in blocking
        )
        assert not blocking, f"axe on {label} ({self.page.url}):\n{details}"

    def shot(self, label: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        safe = re.sub(r"[^\w-]+", "-", label)
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.name}-{self.shots:02d}-{safe}.png"), full_page=True)

    def visit(self, label: str) -> None:
        """The checks of a page just reached: axe and a screenshot."""
        self.page.wait_for_load_state("load")
        self.axe(label)
        self.shot(label)


def enforce_csp(context, base_url: str) -> None:
    """Answer every request to the app with the strict CSP added, and serve axe-core from the app's origin."""

    def with_csp(route):
        if route.request.url.startswith(base_url + AXE_PATH):
            route.fulfill(path=str(AXE), content_type="application/javascript")
            return
        if "multipart/form-data" in (route.request.headers.get("content-type") or ""):
            # Chromium doesn't hand file uploads' bodies to interception: let it through untouched (its answer
            # is a redirect to a page that does get the policy).
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "content-security-policy": CSP}
        route.fulfill(response=response, headers=headers)

    context.route(base_url + "/**", with_csp)


def new_context(browser, base_url: str, **options):
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(20_000)
    enforce_csp(context, base_url)
    return context


@pytest.fixture
def ui(browser, live_server, request):
    context = new_context(browser, live_server.url, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    helper = UI(page, live_server.url, request.node.name)
    yield helper
    context.close()
    print(f"\naxe violations (any impact) per page of {request.node.name}: {helper.axe_results}")
    assert not helper.console_errors, f"browser console errors: {helper.console_errors}"


@pytest.fixture
def browser_user(django_user_model):
    return member(django_user_model.objects.create_user("newuser", password=PASSWORD))


def log_in(ui: UI, username: str = "newuser", password: str = PASSWORD) -> None:
    page = ui.goto("/")
    assert "/accounts/login/" in page.url
    ui.visit("login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(ui.url("/"))
