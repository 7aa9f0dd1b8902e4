"""SMTP_SSL and LMTP: the two variants of the blocking client, as smtplib has them.

``SMTP_SSL`` starts TLS on connect (port 465); ``LMTP`` (RFC 2033) greets with LHLO,
connects to Unix-socket paths and reads one reply per recipient after the data. The
socket module is reached through ``client.socket``, the patch point smtplib's own
tests use.
"""

from __future__ import annotations

import socket as _real_socket
import ssl
from collections.abc import Sequence
from typing import Any

from . import client
from .client import LMTP_PORT, SMTP, SMTP_SSL_PORT, _tls_context
from .timeouts import Timeouts

_DEFAULT_TIMEOUT: Any = _real_socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


class SMTP_SSL(SMTP):
    """SMTP over implicit TLS (port 465). Without ``context`` the server is verified."""

    default_port = SMTP_SSL_PORT

    def __init__(
        self,
        host: str = "",
        port: int = 0,
        local_hostname: str | None = None,
        keyfile: str | None = None,
        certfile: str | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
        context: ssl.SSLContext | None = None,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.keyfile = keyfile
        self.certfile = certfile
        self.context = _tls_context(context, keyfile, certfile)
        super().__init__(host, port, local_hostname, timeout, source_address, timeouts=timeouts)

    def _get_socket(self, host: str, port: int, timeout: float | None) -> Any:
        if self.debuglevel > 0:
            self._print_debug("connect:", (host, port))
        new_socket = super()._get_socket(host, port, timeout)
        try:
            return self.context.wrap_socket(new_socket, server_hostname=self._host or None)
        except BaseException:
            new_socket.close()
            raise


class LMTP(SMTP):
    """LMTP (RFC 2033): LHLO, Unix-socket paths, and one reply per recipient after DATA.

    smtplib reads a single reply after the data and leaves the others unread; here
    ``data()`` reads all of them (``data_replies``) and ``sendmail`` reports each
    recipient the server refused after the data in its returned dictionary.
    """

    ehlo_msg = "lhlo"

    def __init__(
        self,
        host: str = "",
        port: int = LMTP_PORT,
        local_hostname: str | None = None,
        source_address: tuple[str, int] | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
        *,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._accepted_rcpts = 0
        self.data_replies: list[tuple[int, bytes]] = []
        super().__init__(
            host,
            port,
            local_hostname=local_hostname,
            source_address=source_address,
            timeout=timeout,
            timeouts=timeouts,
        )

    def _connect(
        self, host: str, port: int, source_address: tuple[str, int] | None
    ) -> tuple[int, bytes]:
        """Connect to the LMTP server on a TCP port, or a Unix socket path starting '/'."""
        if host[0] != "/":
            return super()._connect(host, port, source_address)
        if self.timeout is not None and not self.timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        limit = self._connect_limit()
        try:
            sockets = client.socket
            self.sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
            if limit is not _DEFAULT_TIMEOUT:
                self.sock.settimeout(limit)
            self.file = None
            self.sock.connect(host)
        except OSError:
            if self.debuglevel > 0:
                self._print_debug("connect fail:", host)
            if self.sock:
                self.sock.close()
            self.sock = None
            raise
        self._host = host
        return self._read_greeting()

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self._accepted_rcpts = 0
        return super().mail(sender, options)

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        code, msg = super().rcpt(recip, options)
        if code in (250, 251):
            self._accepted_rcpts += 1
        return code, msg

    def data(self, msg: str | bytes) -> tuple[int, bytes]:
        """DATA, then one reply per accepted recipient; returns the first refusal, else the last."""
        first = super().data(msg)
        self.data_replies = [first]
        for _ in range(self._accepted_rcpts - 1):
            self.data_replies.append(self.getreply())
        return next((r for r in self.data_replies if r[0] != 250), self.data_replies[-1])
