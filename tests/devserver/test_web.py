"""The web inbox over HTTP (urllib/http.client): pages, escaping, headers, downloads, delete."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from smtp_backend import SMTP
from smtp_backend.devserver import DevServer, StoredMessage
from tests.devserver.conftest import DevServerFactory
from tests.devserver.samples import HOSTILE_SUBJECT, PDF_BYTES, rich_message, simple_message


def send(server: DevServer, *messages: EmailMessage) -> list[StoredMessage]:
    with SMTP(server.host, server.port) as client:
        client.send_many(messages)
    return server.messages


def get(server: DevServer, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    assert server.web_url is not None
    try:
        with urllib.request.urlopen(server.web_url.rstrip("/") + path, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def request(
    server: DevServer, method: str, path: str, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    """One request without following redirects."""
    connection = http.client.HTTPConnection(server.host, server.web_port or 0, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_inbox_lists_messages_newest_first(devserver: DevServer) -> None:
    first, _second = send(devserver, simple_message("First"), simple_message("Second"))
    status, headers, body = get(devserver, "/")
    page = body.decode()
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.index("Second") < page.index("First")
    assert f'href="/messages/{first.id}"' in page
    assert "Alice &lt;alice@example.test&gt;" in page and "bob@example.test" in page
    assert f"{first.size} bytes" in page
    assert f"{first.received_at:%Y-%m-%d %H:%M:%S}" in page


def test_an_empty_inbox_says_so(devserver: DevServer) -> None:
    assert "No messages yet." in get(devserver, "/")[2].decode()


def test_every_response_forbids_scripts(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message())
    base = f"/messages/{message.id}"
    for path in ("/", base, f"{base}/raw", f"{base}/attachments/0", "/api/messages", "/nope"):
        headers = get(devserver, path)[1]
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy, path
        assert headers["X-Content-Type-Options"] == "nosniff", path


def test_hostile_subject_and_html_are_shown_as_text(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message(HOSTILE_SUBJECT))
    inbox = get(devserver, "/")[2].decode()
    page = get(devserver, f"/messages/{message.id}")[2].decode()
    for html in (inbox, page):
        assert "<script>" not in html
        assert (
            "&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;"
            in html
        )
    # the HTML body only inside a sandboxed iframe that grants nothing
    assert '<iframe sandbox="" ' in page
    assert 'srcdoc="&lt;h1 id=greeting&gt;Hello from the HTML part&lt;/h1&gt;&lt;script&gt;' in page
    assert page.count("<iframe") == 1 and "allow-" not in page


def test_message_page_shows_headers_text_and_attachments(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message("Quarterly report"))
    page = get(devserver, f"/messages/{message.id}")[2].decode()
    assert "<h1>Quarterly report</h1>" in page
    assert '<pre class="text">Plain body line one.\nLine two.\n</pre>' in page
    assert f'href="/messages/{message.id}/attachments/0">résumé.pdf</a>' in page
    assert "<th>MIME-Version</th><td>1.0</td>" in page
    assert f'href="/messages/{message.id}/raw"' in page
    assert f'action="/messages/{message.id}/delete"' in page


def test_attachment_is_downloaded_not_displayed(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message())
    status, headers, body = get(devserver, f"/messages/{message.id}/attachments/0")
    assert status == 200
    assert body == PDF_BYTES
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )
    assert get(devserver, f"/messages/{message.id}/attachments/1")[0] == 404


def test_attachment_with_a_hostile_type_and_name(devserver: DevServer) -> None:
    # the RFC 2231 file name decodes to: evil".html CR LF Set-Cookie: x=1
    data = (
        b"Subject: hostile\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/html\r\nContent-Disposition: attachment;"
        b" filename*=utf-8''evil%22.html%0D%0ASet-Cookie%3A%20x%3D1\r\n\r\n"
        b"<script>alert(1)</script>\r\n--b--\r\n"
    )
    with SMTP(devserver.host, devserver.port) as client:
        client.sendmail("a@example.test", ["b@example.test"], data)
    (stored,) = devserver.messages
    assert stored.attachments[0][0] == 'evil".html\r\nSet-Cookie: x=1'
    status, headers, body = get(devserver, f"/messages/{stored.id}/attachments/0")
    assert status == 200 and body == b"<script>alert(1)</script>"
    assert headers["Content-Type"] == "text/html"
    assert headers["Content-Disposition"] == (
        'attachment; filename="evil_.html__Set-Cookie_ x_1";'
        " filename*=UTF-8''evil%22.html%0D%0ASet-Cookie%3A%20x%3D1"
    )
    assert headers["Set-Cookie"] is None
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_raw_source_is_plain_text_and_exact(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message())
    status, headers, body = get(devserver, f"/messages/{message.id}/raw")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body == message.data


def test_delete_by_post_redirects_to_the_inbox(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    server = devserver_factory(maildir=tmp_path)
    kept, deleted = send(server, simple_message("keep"), simple_message("delete"))
    assert request(server, "GET", f"/messages/{deleted.id}/delete").status == 404
    response = request(server, "POST", f"/messages/{deleted.id}/delete")
    assert response.status == 303
    assert response.headers["Location"] == "/"
    assert [m.id for m in server.messages] == [kept.id]
    assert sorted(path.stem for path in tmp_path.glob("*.eml")) == [kept.id]
    assert get(server, f"/messages/{deleted.id}")[0] == 404
    assert request(server, "POST", f"/messages/{deleted.id}/delete").status == 404


def test_delete_all(devserver: DevServer) -> None:
    send(devserver, simple_message(), simple_message())
    assert request(devserver, "POST", "/messages/delete").status == 303
    assert devserver.messages == []


def test_a_cross_site_post_is_refused(devserver: DevServer) -> None:
    (message,) = send(devserver, simple_message())
    path = f"/messages/{message.id}/delete"
    response = request(devserver, "POST", path, {"Origin": "http://evil.example"})
    assert response.status == 403
    assert len(devserver.messages) == 1
    own_origin = f"http://127.0.0.1:{devserver.web_port}"
    assert request(devserver, "POST", path, {"Origin": own_origin}).status == 303


def test_a_foreign_host_header_is_refused(devserver: DevServer) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own host name; it reads nothing."""
    send(devserver, simple_message())
    response = request(
        devserver, "GET", "/api/messages", {"Host": f"evil.example:{devserver.web_port}"}
    )
    assert response.status == 403
    for name in ("localhost", "127.0.0.1"):
        assert (
            request(devserver, "GET", "/", {"Host": f"{name}:{devserver.web_port}"}).status == 200
        )


def test_json_api(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message("api"))
    status, headers, body = get(devserver, "/api/messages")
    assert status == 200 and headers["Content-Type"] == "application/json"
    entries: list[dict[str, Any]] = json.loads(body)
    assert entries == [
        {
            "id": message.id,
            "sender": "alice@example.test",
            "recipients": ["bob@example.test"],
            "from": "Alice <alice@example.test>",
            "to": "bob@example.test",
            "subject": "api",
            "received_at": message.received_at.isoformat(),
            "size": message.size,
            "url": f"/messages/{message.id}",
            "raw_url": f"/messages/{message.id}/raw",
        }
    ]


@pytest.mark.parametrize("path", ["/messages/nope", "/messages/../etc/passwd", "/x", "/messages/"])
def test_unknown_paths_are_404(devserver: DevServer, path: str) -> None:
    assert request(devserver, "GET", path).status == 404


def test_no_web_inbox_when_web_port_is_none(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(web_port=None)
    assert server.web_url is None
    assert server.web_port is None
