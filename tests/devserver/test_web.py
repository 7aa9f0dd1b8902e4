"""The web inbox's JSON API and page over HTTP (http.client): a real running dev server."""

from __future__ import annotations

import http.client
import json
import socket
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from smtp_backend import SMTP
from smtp_backend.devserver import DevServer, StoredMessage
from tests.devserver.conftest import DevServerFactory
from tests.devserver.samples import HOSTILE_HTML, PDF_BYTES, rich_message, simple_message


def send(server: DevServer, *messages: EmailMessage) -> list[StoredMessage]:
    with SMTP(server.host, server.port) as client:
        client.send_many(messages)
    return server.messages


def call(
    server: DevServer,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request; the status, headers and body of the answer."""
    connection = http.client.HTTPConnection(server.host, server.web_port or 0, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if data is not None else {}
    connection.request(method, path, body=data, headers={**sent, **(headers or {})})
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response.status, response.headers, content


def api(server: DevServer, method: str, path: str, body: object = None) -> Any:
    status, headers, content = call(server, method, path, body)
    assert headers["Content-Type"] == "application/json", path
    assert status == 200, (status, content)
    return json.loads(content)


def test_list_is_newest_first_with_what_a_list_shows(devserver: DevServer) -> None:
    _, second = send(devserver, simple_message("First"), rich_message("Second"))
    listing = api(devserver, "GET", "/api/messages")
    assert listing["total"] == listing["count"] == 2
    assert [m["subject"] for m in listing["messages"]] == ["Second", "First"]
    newest = listing["messages"][0]
    assert newest == {
        "id": second.id,
        "sender": "alice@example.test",
        "recipients": ["bob@example.test"],
        "from": "Alice <alice@example.test>",
        "to": "bob@example.test",
        "cc": "",
        "subject": "Second",
        "received_at": second.received_at.isoformat(),
        "size": second.size,
        "attachments": 1,
        "tls": False,
        "url": f"/api/messages/{second.id}",
        "raw_url": f"/api/messages/{second.id}/raw",
    }


def test_search_matches_sender_recipients_subject_and_text(devserver: DevServer) -> None:
    invoice = simple_message("Invoice 42", to="accounts@example.test")
    cc = simple_message("Minutes")
    cc["Cc"] = "Carol <carol@example.test>"
    body = simple_message("Hello")
    body.set_content("the secret word is marmalade\n")
    send(devserver, invoice, cc, body)

    def found(query: str) -> list[str]:
        listing = api(devserver, "GET", f"/api/messages?q={query}")
        assert listing["total"] == 3
        return [m["subject"] for m in listing["messages"]]

    assert found("invoice") == ["Invoice 42"]  # subject, any case
    assert found("accounts%40example") == ["Invoice 42"]  # recipient
    assert found("carol") == ["Minutes"]  # Cc
    assert found("MARMALADE") == ["Hello"]  # text
    assert found("alice") == ["Hello", "Minutes", "Invoice 42"]  # sender: every one
    assert found("alice+invoice") == ["Invoice 42"]  # every word must match
    assert found("nowhere") == []


def test_detail_has_headers_bodies_and_attachments(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message("Quarterly report"))
    detail = api(devserver, "GET", f"/api/messages/{message.id}")
    assert detail["subject"] == "Quarterly report"
    assert detail["text"] == "Plain body line one.\nLine two.\n"
    assert detail["html"] == HOSTILE_HTML + "\n"
    assert detail["html_url"] == f"/api/messages/{message.id}/html"
    assert ["MIME-Version", "1.0"] in detail["headers"]
    assert [name for name, _ in detail["headers"]][:3] == ["From", "To", "Subject"]
    (attachment,) = detail["attachments"]
    assert attachment == {
        "filename": "résumé.pdf",
        "content_type": "application/pdf",
        "size": len(PDF_BYTES),
        "url": f"/api/messages/{message.id}/attachments/0",
    }
    status, headers, body = call(devserver, "GET", attachment["url"])
    assert status == 200 and body == PDF_BYTES
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )


def test_raw_is_the_exact_bytes_as_plain_text(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message())
    status, headers, body = call(devserver, "GET", f"/api/messages/{message.id}/raw")
    assert status == 200 and body == message.data
    assert headers["Content-Type"] == "text/plain; charset=utf-8"


def test_the_html_body_runs_no_script_and_loads_nothing_remote(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message())
    status, headers, body = call(devserver, "GET", f"/api/messages/{message.id}/html")
    assert status == 200 and body.decode() == HOSTILE_HTML + "\n"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "img-src data:" in policy
    assert "script-src" not in policy and policy.endswith("sandbox")
    (plain,) = send(devserver, simple_message())[1:]
    assert call(devserver, "GET", f"/api/messages/{plain.id}/html")[0] == 404


def test_only_the_page_may_run_a_script_and_only_its_own(devserver: DevServer) -> None:
    (message,) = send(devserver, rich_message())
    status, headers, page = call(devserver, "GET", "/")
    assert status == 200 and b'<script src="/static/inbox.js"' in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"].split("script-src")[1]
    base = f"/api/messages/{message.id}"
    for path in ("/api/messages", base, f"{base}/raw", f"{base}/attachments/0", "/nope"):
        headers = call(devserver, "GET", path)[1]
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy, path
        assert headers["X-Content-Type-Options"] == "nosniff", path


def test_a_message_link_opens_the_same_page(devserver: DevServer) -> None:
    (message,) = send(devserver, simple_message())
    assert call(devserver, "GET", f"/messages/{message.id}")[2] == call(devserver, "GET", "/")[2]


def test_delete_one_and_delete_all(tmp_path: Path, devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(maildir=tmp_path)
    kept, deleted, third = send(server, *(simple_message(s) for s in ("keep", "delete", "3")))
    assert api(server, "DELETE", f"/api/messages/{deleted.id}") == {"deleted": [deleted.id]}
    assert [m.id for m in server.messages] == [kept.id, third.id]
    assert len(list((tmp_path / "new").iterdir())) == 2
    assert call(server, "GET", f"/api/messages/{deleted.id}")[0] == 404
    assert call(server, "DELETE", f"/api/messages/{deleted.id}")[0] == 404
    assert api(server, "DELETE", "/api/messages") == {"deleted": [kept.id, third.id]}
    assert server.messages == [] and list((tmp_path / "new").iterdir()) == []


def test_release_relays_the_message_to_another_server(devserver_factory: DevServerFactory) -> None:
    catcher, upstream = devserver_factory(), devserver_factory(web_port=None)
    (message,) = send(catcher, rich_message("Release me"))
    outcome = api(
        catcher,
        "POST",
        f"/api/messages/{message.id}/release",
        {"url": f"smtp://127.0.0.1:{upstream.port}", "to": ["real@example.test"]},
    )
    assert outcome["state"] == "sent" and outcome["accepted"] == ["real@example.test"]
    (relayed,) = upstream.messages
    assert relayed.data == message.data
    assert (relayed.sender, relayed.recipients) == ("alice@example.test", ("real@example.test",))
    assert len(catcher.messages) == 1  # released, not moved


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"to": ["x@example.test"]}, 400, '"url" must be'),
        ({"url": "smtp://127.0.0.1:1"}, 400, '"to" must be'),
        ({"url": "gopher://x", "to": ["x@example.test"]}, 400, "unknown scheme"),
        ({"url": "smtp://127.0.0.1:{closed}", "to": ["x@example.test"]}, 502, "through 127.0.0.1:"),
    ],
)
def test_release_errors_say_what_was_wrong(
    devserver: DevServer, body: dict[str, Any], status: int, error: str
) -> None:
    (message,) = send(devserver, simple_message())
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    if "url" in body:
        body = {**body, "url": body["url"].format(closed=closed)}
    answer = call(devserver, "POST", f"/api/messages/{message.id}/release", body)
    assert answer[0] == status, answer
    assert error in json.loads(answer[2])["error"]


def test_changes_from_another_site_are_refused(devserver: DevServer) -> None:
    (message,) = send(devserver, simple_message())
    evil = {"Origin": "http://evil.example"}
    assert call(devserver, "DELETE", f"/api/messages/{message.id}", headers=evil)[0] == 403
    assert call(devserver, "DELETE", "/api/messages", headers=evil)[0] == 403
    release = f"/api/messages/{message.id}/release"
    body = {"url": "smtp://127.0.0.1:25", "to": ["x@example.test"]}
    assert call(devserver, "POST", release, body, headers=evil)[0] == 403
    # a plain HTML form can post text/plain across sites without asking: not accepted
    text = {"Content-Type": "text/plain"}
    assert call(devserver, "POST", release, body, headers=text)[0] == 415
    assert len(devserver.messages) == 1
    own = {"Origin": f"http://127.0.0.1:{devserver.web_port}"}
    assert call(devserver, "DELETE", f"/api/messages/{message.id}", headers=own)[0] == 200


def test_a_foreign_host_header_is_refused(devserver: DevServer) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own host name; it reads nothing."""
    send(devserver, simple_message())
    evil = {"Host": f"evil.example:{devserver.web_port}"}
    assert call(devserver, "GET", "/api/messages", headers=evil)[0] == 403
    for name in ("localhost", "127.0.0.1"):
        own = {"Host": f"{name}:{devserver.web_port}"}
        assert call(devserver, "GET", "/api/messages", headers=own)[0] == 200


def test_events_stream_arrivals_and_deletions(devserver: DevServer) -> None:
    connection = http.client.HTTPConnection(devserver.host, devserver.web_port or 0, timeout=10)
    connection.request("GET", "/api/events")
    response = connection.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"

    def next_event() -> tuple[str, dict[str, Any]]:
        fields: dict[str, str] = {}
        while (line := response.readline().decode().rstrip("\n")) or "event" not in fields:
            name, _, value = line.partition(": ")
            if line and not line.startswith(":"):
                fields[name] = value
        return fields["event"], json.loads(fields["data"])

    try:
        assert response.readline() == b"retry: 1000\n"
        (message,) = send(devserver, simple_message("Live"))
        event, data = next_event()
        assert event == "created" and data["id"] == message.id and data["subject"] == "Live"
        api(devserver, "DELETE", f"/api/messages/{message.id}")
        assert next_event() == ("deleted", {"id": message.id})
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path", ["/api/messages/nope", "/api/messages/../etc/passwd", "/x", "/static/../web.py"]
)
def test_unknown_paths_are_404(devserver: DevServer, path: str) -> None:
    status, _, body = call(devserver, "GET", path)
    assert status == 404 and "error" in json.loads(body)


def test_no_web_inbox_when_web_port_is_none(devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(web_port=None)
    assert server.web_url is None
    assert server.web_port is None
