"""Layout, keyboard and narrow screens; the repository form without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, UI, log_in, new_context

pytestmark = pytest.mark.django_db(transaction=True)


def test_keyboard_skip_link_and_logout(ui, browser_user):
    log_in(ui)
    page = ui.page
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    # sidebar links are reachable by keyboard and the current page is marked
    expect(page.locator('a.nav-link[aria-current="page"]')).to_have_text("Dashboard")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Findings").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/findings/")
    expect(page.locator('a.nav-link[aria-current="page"]')).to_have_text("Findings")
    ui.visit("findings-empty")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    page.goto(ui.url("/issues/"))
    assert "/accounts/login/?next=/issues/" in page.url


def test_narrow_screen_collapses_the_sidebar(browser, live_server, browser_user, request):
    context = new_context(browser, live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True,
                          has_touch=True)
    page = context.new_page()
    ui = UI(page, live_server.url, request.node.name)
    try:
        log_in(ui)
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_hidden()
        ui.visit("narrow-dashboard")
        toggle = page.get_by_role("button", name="Open navigation")
        toggle.click()
        expect(nav).to_be_visible()
        expect(nav.locator('[aria-current="page"]')).to_have_text("Dashboard")
        ui.visit("narrow-navigation-open")
        nav.get_by_role("link", name="Issues").click()
        page.wait_for_url("**/issues/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Issues")
        expect(page.get_by_text("No issues yet")).to_be_visible()
        ui.visit("narrow-issues-empty")
    finally:
        context.close()
    assert not ui.console_errors, ui.console_errors


def test_repository_form_without_javascript_shows_every_tracker_with_headings(browser, live_server, browser_user,
                                                                              request):
    context = new_context(browser, live_server.url, java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(live_server.url + "/accounts/login/?next=/repositories/new/")
        page.get_by_label("Username").fill("newuser")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/repositories/new/")
        for name in ("GitHub settings", "GitLab settings", "Gitea settings", "Jira settings"):
            expect(page.get_by_role("group", name=name)).to_be_visible()
        expect(page.get_by_text("Fill in only the section of the tracker you chose")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("acme/nojs")
        page.get_by_role("combobox", name="Tracker", exact=True).select_option(label="Gitea")
        gitea = page.get_by_role("group", name="Gitea settings")
        gitea.get_by_label("Repository (required)").fill("acme/nojs")
        gitea.get_by_label("Token (required)").fill("gitea-token")
        page.get_by_role("button", name="Save").click()
        # the instance URL is required for Gitea: the error shows next to it
        expect(page.locator("#id_tracker-gitea_instance_url_error")).to_contain_text(
            re.compile("required for a Gitea tracker", re.I))
        page.screenshot(path=str(_shot(request.node.name)), full_page=True)
    finally:
        context.close()


def _shot(name):
    from .conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
