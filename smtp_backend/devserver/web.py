"""The web inbox and its JSON API: stdlib ``http.server`` in a thread.

The page (``static/``) is a small script on the API; no build step, nothing from a CDN.
Every message is untrusted input: the page writes text only as text, an HTML body is
served on its own URL with a policy that allows no script and nothing remote, and shown
in an ``<iframe sandbox>``; every other response allows no script at all.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import AF_INET6
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from . import api
from .events import KEEPALIVE_SECONDS, EventHub
from .store import MessageStore, StoredMessage

STATIC = Path(__file__).with_name("static")
# Responses other than the page: no script, nothing loaded, not framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
# The page: its own script and style, the API, and message bodies in frames.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'none'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
# An HTML body: inline styles and data: images only (no tracking pixel), framed by the page
# only, in a sandbox even if opened on its own.
BODY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; sandbox"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # not "no-referrer": with it a browser sends "Origin: null" on DELETE and POST
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ID = r"(?P<id>[A-Za-z0-9][A-Za-z0-9._-]*)"
_MESSAGE = rf"/api/messages/{_ID}"
_ROUTES: dict[str, dict[str, re.Pattern[str]]] = {
    "GET": {
        "page": re.compile(rf"/(messages/{_ID})?\Z"),
        "static": re.compile(r"/static/(?P<name>inbox\.(js|css))\Z"),
        "list": re.compile(r"/api/messages\Z"),
        "events": re.compile(r"/api/events\Z"),
        "detail": re.compile(rf"{_MESSAGE}\Z"),
        "raw": re.compile(rf"{_MESSAGE}/raw\Z"),
        "html": re.compile(rf"{_MESSAGE}/html\Z"),
        "attachment": re.compile(rf"{_MESSAGE}/attachments/(?P<number>\d+)\Z"),
    },
    "DELETE": {
        "delete": re.compile(rf"{_MESSAGE}\Z"),
        "delete_all": re.compile(r"/api/messages\Z"),
    },
    "POST": {"release": re.compile(rf"{_MESSAGE}/release\Z")},
}
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+\Z")
MAX_REQUEST_BODY = 64 * 1024


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name per RFC 6266."""
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", filename)[:100] or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class InboxRequestHandler(BaseHTTPRequestHandler):
    server: InboxHTTPServer
    server_version = "smtp-backend-devserver"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        if not self._host_allowed():
            return
        if self.command != "GET" and not self._same_origin():
            return
        path = urlsplit(self.path)
        route, match = None, None
        for name, pattern in _ROUTES.get(self.command, {}).items():
            match = pattern.match(path.path)
            if match is not None:
                route = name
                break
        if match is None or route is None:
            self._error(HTTPStatus.NOT_FOUND, f"no {self.command} {path.path}")
            return
        message: StoredMessage | None = None
        message_id = match.groupdict().get("id")
        if message_id is not None and route != "page":
            message = self.server.store.get(message_id)
            if message is None:
                self._error(HTTPStatus.NOT_FOUND, f"no message {message_id}")
                return
        getattr(self, f"_{route}")(message, match, parse_qs(path.query))

    # -- the routes (each takes the message, the path's match and the query) --------------

    def _page(self, *_: Any) -> None:
        body = (STATIC / "inbox.html").read_bytes()
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", body, policy=PAGE_POLICY)

    def _static(self, _: None, match: re.Match[str], __: Any) -> None:
        path = STATIC / match["name"]
        self._send(HTTPStatus.OK, _STATIC_TYPES[path.suffix], path.read_bytes())

    def _list(self, _: None, __: Any, query: dict[str, list[str]]) -> None:
        words = " ".join(query.get("q", []))
        self._json(api.listing(self.server.store.all(), words))

    def _detail(self, message: StoredMessage, *_: Any) -> None:
        self._json(api.detail(message))

    def _raw(self, message: StoredMessage, *_: Any) -> None:
        self._send(HTTPStatus.OK, "text/plain; charset=utf-8", message.data)

    def _html(self, message: StoredMessage, *_: Any) -> None:
        if message.html is None:
            self._error(HTTPStatus.NOT_FOUND, "this message has no HTML body")
            return
        body = message.html.encode()
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", body, policy=BODY_POLICY)

    def _attachment(self, message: StoredMessage, match: re.Match[str], _: Any) -> None:
        number = int(match["number"])
        if not 0 <= number < len(message.attachments):
            self._error(HTTPStatus.NOT_FOUND, f"message {message.id} has no part {number}")
            return
        filename, content_type, content = message.attachments[number]
        if not _CONTENT_TYPE.match(content_type):
            content_type = "application/octet-stream"
        headers = {"Content-Disposition": content_disposition(filename)}
        self._send(HTTPStatus.OK, content_type, content, headers)

    def _delete(self, message: StoredMessage, *_: Any) -> None:
        self.server.store.delete(message.id)
        self._json({"deleted": [message.id]})

    def _delete_all(self, *_: Any) -> None:
        store = self.server.store
        deleted = [message.id for message in store.all() if store.delete(message.id)]
        self._json({"deleted": deleted})

    def _release(self, message: StoredMessage, *_: Any) -> None:
        if self.headers.get_content_type() != "application/json":
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the request as application/json")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BODY:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the request body is too large")
            return
        try:
            url, to = api.release_request(self.rfile.read(length))
        except api.BadRequest as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        try:
            outcome = api.release(message, url, to)
        except ValueError as exc:  # a URL or address the Mailer refuses
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        except OSError as exc:  # the server could not be reached, or said no to all
            where = urlsplit(url)  # host and port only: the URL may carry a password
            server = f"{where.hostname}:{where.port}" if where.port else str(where.hostname)
            detail = f"{type(exc).__name__}: {exc}"
            self._error(HTTPStatus.BAD_GATEWAY, f"could not relay through {server}: {detail}")
            return
        self._json(outcome)

    def _events(self, *_: Any) -> None:
        hub = self.server.events
        stream = hub.subscribe()
        self.close_connection = True  # the stream ends with the connection
        self.send_response(HTTPStatus.OK)
        self._headers(CONTENT_SECURITY_POLICY)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while True:
                try:
                    frame = stream.get(timeout=KEEPALIVE_SECONDS)
                except queue.Empty:
                    frame = b": keep-alive\n\n"
                if frame is None:
                    return
                self.wfile.write(frame)
                self.wfile.flush()
        except OSError:  # the browser went away
            pass
        finally:
            hub.unsubscribe(stream)

    # -- guards and responses ------------------------------------------------------------

    def _host_allowed(self) -> bool:
        """Refuses a Host that is not this loopback listener: a DNS-rebinding page's request."""
        if self.server.allow_remote or self.headers.get("Host") in self.server.own_hosts:
            return True
        self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        return False

    def _same_origin(self) -> bool:
        """Refuses a change a page on another site makes the browser send (CSRF)."""
        origin = self.headers.get("Origin")
        if origin is None or origin.removeprefix("http://") in self.server.own_hosts:
            return True
        if self.server.allow_remote and origin == f"http://{self.headers.get('Host')}":
            return True
        self._error(HTTPStatus.FORBIDDEN, "cross-origin request")
        return False

    def _json(self, data: object, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, "application/json", json.dumps(data).encode())

    def _error(self, status: HTTPStatus, text: str) -> None:
        self._json({"error": text}, status)

    def _headers(self, policy: str) -> None:
        for name, value in {"Content-Security-Policy": policy, **SECURITY_HEADERS}.items():
            self.send_header(name, value)

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        headers: dict[str, str] | None = None,
        policy: str = CONTENT_SECURITY_POLICY,
    ) -> None:
        self.send_response(status)
        self._headers(policy)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the console shows one line per message, not per request."""


class InboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: MessageStore, host: str, port: int, allow_remote: bool) -> None:
        if ":" in host:
            self.address_family = AF_INET6
        self.store = store
        self.events = EventHub()
        self.allow_remote = allow_remote
        super().__init__((host, port), InboxRequestHandler)
        bound_port = self.server_address[1]
        names = {"localhost", "127.0.0.1", "[::1]", f"[{host}]" if ":" in host else host}
        self.own_hosts = {f"{name}:{bound_port}" for name in names}
        store.listen(self.events.store_changed)


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
        self._httpd.events.close()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
