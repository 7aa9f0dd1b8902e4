"""What a person sees in a real headless browser: Debian's chromium driven by Playwright.

Skipped when chromium or Playwright is missing, unless SMTP_BACKEND_REQUIRE_BROWSER=1
(CI sets it). Playwright's own browser download is never used: it cannot run here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtp_backend import SMTP
from smtp_backend.devserver import DevServer
from tests.devserver.samples import HOSTILE_HTML, HOSTILE_SUBJECT, rich_message, simple_message

CHROMIUM = (
    os.environ.get("SMTP_BACKEND_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not os.path.exists(CHROMIUM):
        return f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing_browser()
    if missing is not None:
        if os.environ.get("SMTP_BACKEND_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SMTP_BACKEND_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    page.close()


def test_open_a_message_from_the_inbox(devserver: DevServer, page: Any, tmp_path: Path) -> None:
    # an image the inbox itself would answer (404): fetched unless the policy blocks it
    pixel = f"{devserver.web_url}pixel.gif"
    html = f'{HOSTILE_HTML}<img src="{pixel}">'
    with SMTP(devserver.host, devserver.port) as client:
        client.send_many([simple_message("An older message"), rich_message(HOSTILE_SUBJECT, html)])

    page.goto(devserver.web_url)
    assert page.locator("h1").inner_text() == "Inbox (2)"
    page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    newest = rows.nth(0).inner_text()
    assert HOSTILE_SUBJECT in newest and "Alice <alice@example.test>" in newest

    def blocked(message: Any) -> bool:
        return pixel in message.text and "Content Security Policy" in message.text

    # the browser reports the image it refused to load: an HTML body tracks no one
    with page.expect_console_message(blocked, timeout=10_000):
        page.get_by_role("link", name=HOSTILE_SUBJECT).click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == HOSTILE_SUBJECT  # the script shown as text
    summary = page.locator("table.summary").inner_text()
    assert "Alice <alice@example.test>" in summary and "bob@example.test" in summary
    assert page.locator("pre.text").inner_text() == "Plain body line one.\nLine two.\n"
    assert page.get_by_role("link", name="résumé.pdf").is_visible()

    iframe = page.locator("iframe")
    assert iframe.get_attribute("sandbox") == ""
    body = page.frame_locator("iframe").locator("#greeting")
    assert body.inner_text() == "Hello from the HTML part"  # rendered, scripts not run
    assert page.dialogs == []
    assert page.title() == f"{HOSTILE_SUBJECT} - devserver"

    screenshot = tmp_path / "message.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_download_an_attachment_and_delete_the_message(devserver: DevServer, page: Any) -> None:
    with SMTP(devserver.host, devserver.port) as client:
        client.send_message(rich_message("With a file"))
    (message,) = devserver.messages
    page.goto(f"{devserver.web_url}messages/{message.id}")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="résumé.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "résumé.pdf"
    assert Path(download.path()).read_bytes() == message.attachments[0][2]

    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(devserver.web_url or "")
    assert page.locator("p.empty").inner_text() == "No messages yet."
    assert devserver.messages == []
