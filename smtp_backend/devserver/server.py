"""``DevServer``: the mail catcher, an SMTP listener plus an optional web inbox, on loopback."""

from __future__ import annotations

import asyncio
import errno
import logging
import ssl
import tempfile
import threading
import warnings
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from .folders import EmlFolder, Folder, MaildirFolder
from .session import CatchAllHandler, DevSMTP, PasswordCheck
from .store import MessageStore, StoredMessage

logger = logging.getLogger("smtp_backend.devserver")

START_TIMEOUT = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def summary_line(message: StoredMessage) -> str:
    """One line per caught message; repr() keeps a hostile subject from driving the terminal."""
    recipients = ", ".join(message.recipients)
    return (
        f"{message.received_at:%H:%M:%S} {message.sender or '<>'!r} -> {recipients!r}"
        f" {message.subject!r} ({message.size} bytes) id={message.id}"
    )


def listen_error(error: OSError, what: str, host: str, port: int, flag: str) -> OSError:
    """The error for a port that cannot be listened on, naming the port (and the way out)."""
    if error.errno == errno.EADDRINUSE:
        return OSError(
            error.errno,
            f"port {port} on {host} ({what}) is taken by another program:"
            f" choose another with {flag} PORT ({flag} 0: any free port)",
        )
    return OSError(
        error.errno, f"cannot listen on {host}:{port} ({what}): {error.strerror or error}"
    )


class DevServer:
    """A local SMTP server that accepts every message and keeps it for inspection.

    Binds to loopback only unless ``allow_remote=True``: it accepts mail from anyone
    who can reach it, without authentication by default, and shows it on the web.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        web_port: int | None = 0,
        maildir: str | Path | None = None,
        tls: bool = False,
        auth: tuple[str, str] | None = None,
        chunking: bool = True,
        smtputf8: bool = True,
        size_limit: int | None = None,
        on_message: Callable[[StoredMessage], object] | None = None,
        quiet: bool = False,
        allow_remote: bool = False,
        eml_dir: str | Path | None = None,
        tls_dir: str | Path | None = None,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to listen on {host!r}: the dev server accepts and shows mail"
                " from anyone who can connect, so it binds to loopback only;"
                " pass allow_remote=True if you really mean it"
            )
        if auth is not None and (len(auth) != 2 or not all(isinstance(x, str) for x in auth)):
            raise TypeError("auth must be a (user, password) pair of strings")
        # "localhost" may resolve to two addresses, and port 0 would give each its own port
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.web_port = web_port
        self.allow_remote = allow_remote
        self.maildir = Path(maildir) if maildir is not None else None
        self.eml_dir = Path(eml_dir) if eml_dir is not None else None
        if maildir is not None and eml_dir is not None:
            raise ValueError("maildir and eml_dir: give one place to keep the messages")
        folder: Folder | None = None
        if maildir is not None:
            folder = MaildirFolder(Path(maildir))
        elif eml_dir is not None:
            folder = EmlFolder(Path(eml_dir))
        self.store = MessageStore(folder)
        # without tls_dir the CA lives (and clients find it) as long as this object
        self._temporary_tls_dir: tempfile.TemporaryDirectory[str] | None = None
        if tls and tls_dir is None:
            self._temporary_tls_dir = tempfile.TemporaryDirectory(prefix="smtp-backend-ca-")
            tls_dir = self._temporary_tls_dir.name
        #: The CA certificate clients trust to verify STARTTLS (None without ``tls``).
        self.ca_file: Path | None = None
        self.tls_context: ssl.SSLContext | None = None
        if tls:
            from .tls import certificate_authority, server_context

            assert tls_dir is not None
            self.ca_file = certificate_authority(Path(tls_dir))
            self.tls_context = server_context(Path(tls_dir))
        self.auth = auth
        self.chunking = chunking
        self.smtputf8 = smtputf8
        self.size_limit = size_limit
        self.on_message = on_message
        self.quiet = quiet
        self._smtp: _SMTPThread | None = None
        self._web: Any = None

    @property
    def messages(self) -> list[StoredMessage]:
        """Every caught message, oldest first (a snapshot)."""
        return self.store.all()

    def clear(self) -> None:
        """Forget every message, deleting its files from the folder on disk too."""
        self.store.clear()

    @property
    def web_url(self) -> str | None:
        if self._web is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.web_port}/"

    def start(self) -> DevServer:
        if self._smtp is not None:
            raise RuntimeError("the dev server is already running")
        self.store.load()
        smtp = _SMTPThread(self.host, self.port, self._new_session)
        try:
            smtp.start()
        except OSError as error:
            raise listen_error(error, "SMTP", self.host, self.port, "--port") from None
        self._smtp, self.port = smtp, smtp.port
        if self.web_port is not None:
            from .web import WebInbox

            try:
                self._web = WebInbox(self.store, self.host, self.web_port, self.allow_remote)
            except OSError as error:
                self.stop()
                raise listen_error(
                    error, "web inbox", self.host, self.web_port, "--web-port"
                ) from None
            except BaseException:
                self.stop()
                raise
            self._web.start()
            self.web_port = self._web.port
        return self

    def stop(self) -> None:
        """Stop listening; the messages stay in ``messages`` (and the folder on disk)."""
        if self._web is not None:
            self._web.stop()
            self._web = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _new_session(self) -> DevSMTP:
        options: dict[str, Any] = {
            "data_size_limit": self.size_limit,
            "enable_SMTPUTF8": self.smtputf8,
            "hostname": "localhost",
            "ident": "smtp-backend devserver",
        }
        if self.tls_context is not None:
            options["tls_context"] = self.tls_context
        if self.auth is not None:
            # with TLS on offer, AUTH waits for STARTTLS as on a real server
            options |= {
                "auth_required": True,
                "auth_require_tls": self.tls_context is not None,
                "authenticator": PasswordCheck(*self.auth),
            }
        with warnings.catch_warnings():
            # plain-text AUTH is acceptable on loopback, the only place this listens by default
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return DevSMTP(CatchAllHandler(self._deliver, self.chunking), **options)

    def _deliver(self, message: StoredMessage) -> None:
        self.store.add(message)
        if not self.quiet:
            print(summary_line(message), flush=True)
        if self.on_message is not None:
            try:
                self.on_message(message)
            except Exception:  # the message is caught; a broken callback must not refuse it
                logger.exception("on_message callback failed for message %s", message.id)


class _SMTPThread:
    """An asyncio loop in a daemon thread serving ``session_factory`` on ``host:port``."""

    def __init__(self, host: str, port: int, session_factory: Callable[[], DevSMTP]) -> None:
        self.host = host
        self.port = port
        self._session_factory = session_factory
        self._loop = asyncio.new_event_loop()
        self._sessions: list[DevSMTP] = []
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="devserver-smtp", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("the dev server's SMTP listener did not start")
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)

    def _new_session(self) -> DevSMTP:
        # forget closed sessions so a long-running server does not keep them all
        self._sessions = [s for s in self._sessions if s.transport is not None]
        session = self._session_factory()
        self._sessions.append(session)
        return session

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = self._loop.run_until_complete(
                self._loop.create_server(self._new_session, host=self.host, port=self.port)
            )
            self.port = server.sockets[0].getsockname()[1]
        except BaseException as error:  # reported by start() in the caller's thread
            self._startup_error = error
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for session in self._sessions:
            if session.transport is not None:
                session.transport.close()
        # one turn lets the closed transports call connection_lost()
        self._loop.run_until_complete(asyncio.sleep(0))
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()
