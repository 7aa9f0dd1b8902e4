"""What a person sees in a real headless browser: Debian's chromium driven by Playwright.

Skipped when chromium or Playwright is missing, unless SMTP_BACKEND_REQUIRE_BROWSER=1
(CI sets it). Playwright's own browser download is never used: it cannot run here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from smtp_backend import SMTP
from smtp_backend.devserver import DevServer
from tests.devserver.conftest import DevServerFactory
from tests.devserver.samples import (
    HOSTILE_HTML,
    HOSTILE_SUBJECT,
    PDF_BYTES,
    rich_message,
    simple_message,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]

# The README's picture of the inbox, as the first test leaves it: rewritten on request only.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "inbox.png"
UPDATE_SCREENSHOT = os.environ.get("SMTP_BACKEND_UPDATE_SCREENSHOT") == "1"

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


def send(server: DevServer, *messages: EmailMessage) -> None:
    with SMTP(server.host, server.port) as client:
        client.send_many(messages)


def list_items(page: Any) -> Any:
    return page.locator("#messages li")


def test_a_message_arrives_without_a_reload_and_opens_in_the_second_pane(
    devserver: DevServer, page: Any, tmp_path: Path
) -> None:
    # an image the inbox itself would answer (404): fetched unless the policy blocks it
    pixel = f"{devserver.web_url}pixel.gif"
    html = f'{HOSTILE_HTML}<img src="{pixel}">'
    send(devserver, simple_message("An older message"))
    page.goto(devserver.web_url)
    expect(list_items(page)).to_have_count(1)
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")

    hostile = rich_message(HOSTILE_SUBJECT, html)
    hostile["Cc"] = "Carol <carol@example.test>"
    send(devserver, hostile)
    expect(list_items(page)).to_have_count(2)  # pushed by the server: no reload
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#count").inner_text() == "2"
    newest = list_items(page).nth(0)
    assert HOSTILE_SUBJECT in newest.inner_text()  # newest first, the script shown as text

    def blocked(message: Any) -> bool:
        return pixel in message.text and "Content Security Policy" in message.text

    # the browser reports the image it refused to load: an HTML body tracks no one
    with page.expect_console_message(blocked, timeout=10_000):
        newest.click()  # the HTML body loads (hidden) with the message
    expect(page.locator("#subject")).to_have_text(HOSTILE_SUBJECT)
    summary = page.locator("#summary").inner_text()
    assert "Alice <alice@example.test>" in summary and "Carol <carol@example.test>" in summary
    assert page.locator("#text").inner_text() == "Plain body line one.\nLine two.\n"
    assert page.url.endswith(f"/messages/{devserver.messages[1].id}")

    page.get_by_role("tab", name="HTML").click()
    iframe = page.locator("#html")
    assert iframe.get_attribute("sandbox") == ""
    body = page.frame_locator("#html").locator("#greeting")
    expect(body).to_have_text("Hello from the HTML part")  # rendered, scripts not run
    assert page.dialogs == []
    assert page.title() == f"{HOSTILE_SUBJECT} - devserver"

    page.get_by_role("tab", name="Headers").click()
    expect(page.locator("#headers")).to_contain_text("MIME-Version")
    page.get_by_role("tab", name="Raw").click()
    expect(page.locator("#raw")).to_contain_text("Content-Type: multipart/mixed")
    page.get_by_role("tab", name="Attachments (1)").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="résumé.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "résumé.pdf"
    assert Path(download.path()).read_bytes() == PDF_BYTES

    page.get_by_role("tab", name="HTML").click()
    page.set_viewport_size({"width": 1280, "height": 760})
    screenshot = SCREENSHOT if UPDATE_SCREENSHOT else tmp_path / "inbox.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_search_narrows_the_list(devserver: DevServer, page: Any) -> None:
    send(devserver, simple_message("Invoice 42"), simple_message("Minutes"), simple_message("Hi"))
    page.goto(devserver.web_url)
    expect(list_items(page)).to_have_count(3)
    page.get_by_role("searchbox").fill("invoice")
    expect(list_items(page)).to_have_count(1)
    assert "Invoice 42" in list_items(page).nth(0).inner_text()
    send(devserver, simple_message("Another invoice"), simple_message("Not this one"))
    expect(list_items(page)).to_have_count(2)  # live updates keep the search
    page.get_by_role("searchbox").fill("")
    expect(list_items(page)).to_have_count(5)


def test_delete_and_release_from_the_page(devserver_factory: DevServerFactory, page: Any) -> None:
    catcher, upstream = devserver_factory(), devserver_factory(web_port=None)
    send(catcher, simple_message("Keep"), simple_message("Release me"), simple_message("Bin me"))
    page.goto(catcher.web_url)
    list_items(page).filter(has_text="Bin me").click()
    expect(page.locator("#subject")).to_have_text("Bin me")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(list_items(page)).to_have_count(2)
    assert [m.subject for m in catcher.messages] == ["Keep", "Release me"]

    list_items(page).filter(has_text="Release me").click()
    expect(page.locator("#subject")).to_have_text("Release me")
    page.get_by_role("button", name="Release…").click()
    page.get_by_label("Server URL").fill(f"smtp://127.0.0.1:{upstream.port}")
    page.get_by_label("To").fill("real@example.test")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#release-result")).to_contain_text("Released: sent")
    (relayed,) = upstream.messages
    assert relayed.subject == "Release me" and relayed.recipients == ("real@example.test",)

    page.get_by_role("button", name="Delete all").click()
    expect(page.locator("#empty")).to_have_text("No messages yet.")
    assert catcher.messages == []
