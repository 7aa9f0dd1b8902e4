"""The web inbox: stdlib ``http.server`` in a thread, HTML from small template functions.

Every message is untrusted input: all text is escaped, an HTML body is shown only in an
``<iframe sandbox>`` (no scripts, no forms, no navigation of the inbox), and every
response carries a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import AF_INET6
from typing import Any
from urllib.parse import quote

from .store import MessageStore, StoredMessage

# srcdoc frames inherit this policy, so an HTML body loads nothing remote either (no tracking)
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # not "no-referrer": with it a browser sends "Origin: null" and the delete form is refused
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ID = r"(?P<id>[A-Za-z0-9][A-Za-z0-9._-]*)"
_ROUTES_GET = {
    "inbox": re.compile(r"/\Z"),
    "api": re.compile(r"/api/messages\Z"),
    "message": re.compile(rf"/messages/{_ID}\Z"),
    "raw": re.compile(rf"/messages/{_ID}/raw\Z"),
    "attachment": re.compile(rf"/messages/{_ID}/attachments/(?P<number>\d+)\Z"),
}
_ROUTES_POST = {
    "delete": re.compile(rf"/messages/{_ID}/delete\Z"),
    "delete_all": re.compile(r"/messages/delete\Z"),
}
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\Z")
_STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd;
  vertical-align: top; overflow-wrap: anywhere; }
.summary th, .headers th { width: 14rem; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: .75rem; }
iframe { width: 100%; height: 28rem; border: 1px solid #ccc; resize: vertical; }
nav, form { display: inline-block; margin-right: 1rem; }
.empty { color: #666; }
"""


# -- templates ---------------------------------------------------------------------------


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} - devserver</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def time_text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def size_text(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def delete_form(action: str, label: str) -> str:
    return f'<form method="post" action="{escape(action)}"><button>{escape(label)}</button></form>'


def inbox_page(messages: list[StoredMessage]) -> str:
    rows = "".join(inbox_row(message) for message in reversed(messages))
    table = (
        "<table><thead><tr><th>Received</th><th>From</th><th>To</th><th>Subject</th>"
        f"<th>Size</th></tr></thead><tbody>{rows}</tbody></table>"
        if messages
        else '<p class="empty">No messages yet.</p>'
    )
    actions = delete_form("/messages/delete", "Delete all") if messages else ""
    return page("Inbox", f"<h1>Inbox ({len(messages)})</h1>{actions}{table}")


def inbox_row(message: StoredMessage) -> str:
    subject = message.subject or "(no subject)"
    return (
        f"<tr><td>{time_text(message.received_at)}</td><td>{escape(message.from_)}</td>"
        f"<td>{escape(message.to or ', '.join(message.recipients))}</td>"
        f'<td><a href="/messages/{message.id}">{escape(subject)}</a></td>'
        f"<td>{size_text(message.size)}</td></tr>"
    )


def message_page(message: StoredMessage) -> str:
    base = f"/messages/{message.id}"
    subject = message.subject or "(no subject)"
    navigation = (
        f'<nav><a href="/">Inbox</a> · <a href="{base}/raw">Raw source</a></nav>'
        f"{delete_form(base + '/delete', 'Delete')}"
    )
    return page(
        subject,
        f"{navigation}<h1>{escape(subject)}</h1>{summary_table(message)}"
        f"{text_section(message)}{html_section(message)}{attachments_section(message)}"
        f"{headers_section(message)}",
    )


def summary_table(message: StoredMessage) -> str:
    rows = [
        ("From", message.from_),
        ("To", message.to),
        ("Envelope sender", message.sender or "<>"),
        ("Envelope recipients", ", ".join(message.recipients)),
        ("Received", time_text(message.received_at)),
        ("Size", size_text(message.size)),
        ("TLS", "yes" if message.tls else "no"),
    ]
    cells = "".join(f"<tr><th>{name}</th><td>{escape(value)}</td></tr>" for name, value in rows)
    return f'<table class="summary">{cells}</table>'


def text_section(message: StoredMessage) -> str:
    if message.text is None:
        return ""
    return f'<h2>Text</h2><pre class="text">{escape(message.text)}</pre>'


def html_section(message: StoredMessage) -> str:
    if message.html is None:
        return ""
    # sandbox="" grants nothing: no scripts, forms, popups, or same-origin access
    return (
        '<h2>HTML</h2><iframe sandbox="" title="HTML body" referrerpolicy="no-referrer" '
        f'srcdoc="{escape(message.html, quote=True)}"></iframe>'
    )


def attachments_section(message: StoredMessage) -> str:
    if not message.attachments:
        return ""
    items = "".join(
        f'<li><a href="/messages/{message.id}/attachments/{number}">{escape(name)}</a>'
        f" ({escape(content_type)}, {size_text(len(content))})</li>"
        for number, (name, content_type, content) in enumerate(message.attachments)
    )
    return f'<h2>Attachments</h2><ul class="attachments">{items}</ul>'


def headers_section(message: StoredMessage) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in message.headers
    )
    return f'<h2>Headers</h2><table class="headers">{rows}</table>'


def api_summary(message: StoredMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "sender": message.sender,
        "recipients": list(message.recipients),
        "from": message.from_,
        "to": message.to,
        "subject": message.subject,
        "received_at": message.received_at.isoformat(),
        "size": message.size,
        "url": f"/messages/{message.id}",
        "raw_url": f"/messages/{message.id}/raw",
    }


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name per RFC 6266."""
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", filename)[:100] or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# -- HTTP ---------------------------------------------------------------------------------


class InboxRequestHandler(BaseHTTPRequestHandler):
    server: InboxHTTPServer
    server_version = "smtp-backend-devserver"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if not self._host_allowed():
            return
        route, match = _route(_ROUTES_GET, self.path)
        store = self.server.store
        message = store.get(match["id"]) if match and "id" in match.groupdict() else None
        if route == "inbox":
            self._send_html(inbox_page(store.all()))
        elif route == "api":
            body = json.dumps([api_summary(m) for m in store.all()]).encode()
            self._send(HTTPStatus.OK, "application/json", body)
        elif message is None:
            self._send_html(page("Not found", "<h1>Not found</h1>"), HTTPStatus.NOT_FOUND)
        elif route == "message":
            self._send_html(message_page(message))
        elif route == "raw":
            self._send(HTTPStatus.OK, "text/plain; charset=utf-8", message.data)
        else:
            self._send_attachment(message, int(match["number"]) if match else -1)

    def do_POST(self) -> None:
        if not self._host_allowed() or not self._same_origin():
            return
        route, match = _route(_ROUTES_POST, self.path)
        store = self.server.store
        if route == "delete" and match and store.delete(match["id"]):
            self._redirect("/")
        elif route == "delete_all":
            store.clear()
            self._redirect("/")
        else:
            self._send_html(page("Not found", "<h1>Not found</h1>"), HTTPStatus.NOT_FOUND)

    def _send_attachment(self, message: StoredMessage, number: int) -> None:
        if not 0 <= number < len(message.attachments):
            self._send_html(page("Not found", "<h1>Not found</h1>"), HTTPStatus.NOT_FOUND)
            return
        filename, content_type, content = message.attachments[number]
        if not _CONTENT_TYPE.match(content_type):
            content_type = "application/octet-stream"
        headers = {"Content-Disposition": content_disposition(filename)}
        self._send(HTTPStatus.OK, content_type, content, headers)

    def _host_allowed(self) -> bool:
        """Refuses a Host that is not this loopback listener: a DNS-rebinding page's request."""
        if self.server.allow_remote or self.headers.get("Host") in self.server.own_hosts:
            return True
        self._send(HTTPStatus.FORBIDDEN, "text/plain; charset=utf-8", b"unexpected Host header\n")
        return False

    def _same_origin(self) -> bool:
        """Refuses a POST a page on another site makes the browser send (CSRF)."""
        origin = self.headers.get("Origin")
        if origin is None or origin.removeprefix("http://") in self.server.own_hosts:
            return True
        if self.server.allow_remote and origin == f"http://{self.headers.get('Host')}":
            return True
        self._send(HTTPStatus.FORBIDDEN, "text/plain; charset=utf-8", b"cross-origin request\n")
        return False

    def _send_html(self, html: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, "text/html; charset=utf-8", html.encode())

    def _redirect(self, location: str) -> None:
        self._send(HTTPStatus.SEE_OTHER, "text/plain; charset=utf-8", b"", {"Location": location})

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the console shows one line per message, not per request."""


def _route(
    routes: dict[str, re.Pattern[str]], path: str
) -> tuple[str | None, re.Match[str] | None]:
    path = path.partition("?")[0]
    for name, pattern in routes.items():
        match = pattern.match(path)
        if match is not None:
            return name, match
    return None, None


class InboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: MessageStore, host: str, port: int, allow_remote: bool) -> None:
        if ":" in host:
            self.address_family = AF_INET6
        self.store = store
        self.allow_remote = allow_remote
        super().__init__((host, port), InboxRequestHandler)
        bound_port = self.server_address[1]
        names = {"localhost", "127.0.0.1", "[::1]", f"[{host}]" if ":" in host else host}
        self.own_hosts = {f"{name}:{bound_port}" for name in names}


class WebInbox:
    """The inbox on ``host:port`` (0: a free port), served from a daemon thread."""

    def __init__(self, store: MessageStore, host: str, port: int, allow_remote: bool) -> None:
        self._httpd = InboxHTTPServer(store, host, port, allow_remote)
        self.port: int = self._httpd.server_address[1]
        # a short poll keeps stop() quick: shutdown() waits for the next poll
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="devserver-web", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
