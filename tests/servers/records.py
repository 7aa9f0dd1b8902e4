"""What a recording test server saw: messages it accepted, commands, connections."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted (replied 250 to its DATA or final BDAT)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...]
    rcpt_options: tuple[str, ...]
    # DATA: the content after dot-unstuffing, ending CRLF; BDAT: the chunks joined verbatim
    content: bytes
    transfer: str  # "DATA" or "BDAT"
    chunks: tuple[bytes, ...]  # BDAT chunks exactly as received; empty for DATA
    connection: int  # 1-based number of the connection that carried it
    tls: bool
    login: bytes | None  # the authenticated user name, if any
    smtp_utf8: bool


@dataclass(frozen=True)
class ReceivedCommand:
    """One command line as the server parsed it (verb upper-cased, argument verbatim)."""

    connection: int
    verb: str
    argument: str | None


@dataclass
class ServerLog:
    """Thread-safe record shared by the server thread (writer) and the test (reader)."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    commands: list[ReceivedCommand] = field(default_factory=list)
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def connection_opened(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def add_message(self, message: ReceivedMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def add_command(self, command: ReceivedCommand) -> None:
        with self._lock:
            self.commands.append(command)

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.commands.clear()
            self.connections = 0
