"""A scripted fake SMTP server for protocol edge cases, on plain sockets and threads.

Each connection plays the next queued script (``server.play(*steps)``) step by step and
records every byte the client sent. A command that does not match its ``Expect`` is
recorded in ``errors`` and the connection is closed; a connection with no script queued is
closed at once and recorded in ``errors`` too.

    server.play(
        Send(b"220 fake ESMTP\\r\\n"),
        Expect(rb"EHLO \\S+", ehlo_reply("PIPELINING")),
        Expect(rb"QUIT", b"221 bye\\r\\n"),
        Close(),
    )

``Flood`` sends an endless reply; ``Trickle`` one that never ends, a byte at a time;
``Linger`` answers QUIT as Exim does (only once the client ends its side, or after a
while); ``AllTogether`` answers only once that many connections have reached it;
``Serve`` ends a script as a well-behaved server.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
import threading
from collections import deque
from dataclasses import dataclass

HOST = "127.0.0.1"
DEFAULT_IO_TIMEOUT = 10.0


@dataclass(frozen=True)
class Send:
    """Send these exact bytes."""

    data: bytes


@dataclass(frozen=True)
class Expect:
    """Read one line; it must fully match ``pattern`` (CRLF excluded); then send ``reply``."""

    pattern: bytes
    reply: bytes = b""


@dataclass(frozen=True)
class ReadData:
    """Read DATA content through the ``CRLF.CRLF`` terminator into ``messages``; send ``reply``."""

    reply: bytes = b"250 2.0.0 OK\r\n"


@dataclass(frozen=True)
class ReadBytes:
    """Read exactly ``size`` octets (a BDAT chunk) into ``messages``; send ``reply``."""

    size: int
    reply: bytes = b""


@dataclass(frozen=True)
class StartTLS:
    """Do a server-side TLS handshake now; plaintext already buffered is discarded."""


@dataclass(frozen=True)
class Stall:
    """Neither read nor write for ``seconds`` (None: until the server stops)."""

    seconds: float | None = None


@dataclass(frozen=True)
class Close:
    """Close the connection in an orderly way (FIN)."""


@dataclass(frozen=True)
class Reset:
    """Abort the connection (RST)."""


@dataclass(frozen=True)
class Flood:
    """Send ``data`` again and again until the client stops reading (an endless reply)."""

    data: bytes


@dataclass(frozen=True)
class Trickle:
    """Send ``data`` one byte every ``interval`` seconds, again and again (a reply that
    keeps the connection busy but never completes)."""

    data: bytes
    interval: float = 0.3


@dataclass(frozen=True)
class Linger:
    """As Exim after QUIT: wait up to ``seconds`` for the client's end of stream (FIN);
    record in ``ends_seen`` whether it came; then send ``reply`` (the client may be gone)."""

    reply: bytes = b"221 bye\r\n"
    seconds: float = 5.0


@dataclass(frozen=True)
class AllTogether:
    """Wait (up to ``seconds``) until ``connections`` connections have reached a step of
    this ``group``; record in ``together`` whether they did; then send ``reply``."""

    connections: int
    reply: bytes = b"221 bye\r\n"
    seconds: float = 5.0
    group: str = "all"


@dataclass(frozen=True)
class Serve:
    """From here on, a well-behaved server: 250 to MAIL/RCPT/RSET/NOOP, DATA read into
    ``messages``, 221 and close on QUIT (``quit=None``: the script's next step answers it)."""

    ehlo: bytes = b"250 fake.test\r\n"
    quit: bytes | None = b"221 bye\r\n"


Step = (
    Send
    | Expect
    | ReadData
    | ReadBytes
    | StartTLS
    | Stall
    | Close
    | Reset
    | Flood
    | Trickle
    | Linger
    | AllTogether
    | Serve
)


#: The greeting most scripts open with.
GREETING = Send(b"220 fake.test ESMTP\r\n")


def ehlo_reply(*keywords: str, hostname: str = "fake.test") -> bytes:
    """A multi-line ``250`` EHLO reply advertising ``keywords``."""
    lines = [hostname, *keywords]
    return b"".join(
        f"250{'-' if index < len(lines) - 1 else ' '}{line}\r\n".encode()
        for index, line in enumerate(lines)
    )


class ScriptMismatch(Exception):
    """The client did something the script did not expect."""


class _Connection:
    """One accepted socket and its read-ahead buffer; every byte read is logged."""

    def __init__(self, sock: socket.socket, received: bytearray) -> None:
        self.sock = sock
        self.received = received
        self.buffer = bytearray()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ScriptMismatch("client closed the connection")
        self.received += data
        self.buffer += data

    def read_until(self, terminator: bytes) -> bytes:
        while (end := self.buffer.find(terminator)) < 0:
            self._fill()
        end += len(terminator)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    def read_data(self) -> bytes:
        """The data phase through its terminator; a lone dot right away is an empty message."""
        while len(self.buffer) < 3 and b"\r\n.\r\n" not in self.buffer:
            self._fill()
        if self.buffer.startswith(b".\r\n"):
            del self.buffer[:3]
            return b".\r\n"
        return self.read_until(b"\r\n.\r\n")

    def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def await_end(self, seconds: float) -> bool:
        """Read until the client ends its side (True) or ``seconds`` pass (False)."""
        self.sock.settimeout(seconds)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        return True

    def drain_until_eof(self) -> None:
        try:
            while True:
                self._fill()
        except (ScriptMismatch, OSError):
            pass


class ScriptedServer:
    """A fake server on 127.0.0.1; see the module docstring."""

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, io_timeout: float = DEFAULT_IO_TIMEOUT
    ) -> None:
        self.host = HOST
        self._ssl_context = ssl_context  # used by StartTLS steps
        self._io_timeout = io_timeout
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.05)  # lets the accept loop notice stop()
        self.port: int = self._listener.getsockname()[1]
        self._scripts: deque[tuple[Step, ...]] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self.received: list[bytearray] = []  # per connection, every byte the client sent
        self.messages: list[bytes] = []  # what ReadData/ReadBytes steps read
        self.errors: list[str] = []
        self.ends_seen: list[bool] = []  # per Linger step: did the client end its side?
        self.together: list[bool] = []  # per AllTogether step: did all arrive in time?
        self._barriers: dict[str, threading.Barrier] = {}

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def connections(self) -> int:
        return len(self.received)

    def play(self, *steps: Step) -> ScriptedServer:
        """Queue a script for the next connection."""
        with self._lock:
            self._scripts.append(steps)
        return self

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.received.clear()
            self.messages.clear()
            self.errors.clear()

    def join(self, timeout: float = DEFAULT_IO_TIMEOUT) -> None:
        """Wait until every connection so far has finished its script and been closed."""
        for thread in list(self._threads):
            thread.join(timeout)

    def start(self) -> ScriptedServer:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(DEFAULT_IO_TIMEOUT)
        self._listener.close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv()
        self.join()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                received = bytearray()
                self.received.append(received)
                number = len(self.received)
                script = self._scripts.popleft() if self._scripts else None
                self._sockets.append(sock)
            thread = threading.Thread(
                target=self._serve, args=(sock, received, number, script), daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(
        self, sock: socket.socket, received: bytearray, number: int, script: tuple[Step, ...] | None
    ) -> None:
        sock.settimeout(self._io_timeout)
        connection = _Connection(sock, received)
        try:
            if script is None:
                raise ScriptMismatch("no script queued for this connection")
            for step in script:
                if not self._play(connection, step):
                    return
            connection.drain_until_eof()  # record anything the client still sends
        except (ScriptMismatch, OSError) as error:
            if not self._stopping.is_set():
                self.errors.append(f"connection {number}: {error}")
        finally:
            connection.sock.close()

    def _play(self, connection: _Connection, step: Step) -> bool:
        """Run one step; False when the step ended the connection."""
        if isinstance(step, Send):
            connection.sock.sendall(step.data)
        elif isinstance(step, Expect):
            line = connection.read_until(b"\n").rstrip(b"\r\n")
            if re.fullmatch(step.pattern, line) is None:
                raise ScriptMismatch(f"expected {step.pattern!r}, got {line!r}")
            connection.sock.sendall(step.reply)
        elif isinstance(step, ReadData | ReadBytes):
            if isinstance(step, ReadData):
                content = connection.read_data()
            else:
                content = connection.read_exactly(step.size)
            self.messages.append(content)
            connection.sock.sendall(step.reply)
        elif isinstance(step, StartTLS):
            if self._ssl_context is None:
                raise ScriptMismatch("StartTLS step on a server without ssl_context")
            connection.buffer.clear()
            connection.sock = self._ssl_context.wrap_socket(connection.sock, server_side=True)
        elif isinstance(step, Stall):
            self._stopping.wait(step.seconds)
        elif isinstance(step, Close):
            connection.sock.shutdown(socket.SHUT_RDWR)
            return False
        elif isinstance(step, Reset):
            linger_now = struct.pack("ii", 1, 0)
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_now)
            return False
        elif isinstance(step, Flood):
            with contextlib.suppress(OSError):
                while not self._stopping.is_set():
                    connection.sock.sendall(step.data * 64)
            return False
        elif isinstance(step, Trickle):
            with contextlib.suppress(OSError):
                while not self._stopping.wait(step.interval):
                    for byte in step.data:
                        connection.sock.sendall(bytes([byte]))
                        if self._stopping.wait(step.interval):
                            break
            return False
        elif isinstance(step, Linger):
            self.ends_seen.append(connection.await_end(step.seconds))
            with contextlib.suppress(OSError):
                connection.sock.sendall(step.reply)
            return False
        elif isinstance(step, AllTogether):
            with self._lock:
                barrier = self._barriers.setdefault(step.group, threading.Barrier(step.connections))
            try:
                barrier.wait(step.seconds)
                self.together.append(True)
            except threading.BrokenBarrierError:
                self.together.append(False)
            connection.sock.sendall(step.reply)
        elif isinstance(step, Serve):
            return self._serve_well(connection, step)
        return True

    def _serve_well(self, connection: _Connection, step: Serve) -> bool:
        while True:
            verb = connection.read_until(b"\n")[:4].upper()
            if verb == b"QUIT":
                if step.quit is None:
                    return True
                connection.sock.sendall(step.quit)
                return False
            if verb in (b"EHLO", b"HELO"):
                connection.sock.sendall(step.ehlo)
            elif verb == b"DATA":
                connection.sock.sendall(b"354 go ahead\r\n")
                self.messages.append(connection.read_data())
                connection.sock.sendall(b"250 2.0.0 queued\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                connection.sock.sendall(b"250 ok\r\n")
            else:
                connection.sock.sendall(b"502 5.5.1 not in this script\r\n")


LMTP_RECIPIENTS = ("a@example.test", "b@example.test", "c@example.test")


def lmtp_closing_midway() -> tuple[Step, ...]:
    """An LMTP server that takes a message for ``LMTP_RECIPIENTS``, then answers 250 for a,
    421 for b, and closes before c's reply (RFC 2033 4.2: one reply per recipient)."""
    rcpts = [
        Expect(rb"(?i)rcpt to:<%s>.*" % re.escape(r.encode()), b"250 ok\r\n")
        for r in LMTP_RECIPIENTS
    ]
    return (
        Send(b"220 fake.test LMTP\r\n"),
        Expect(rb"(?i)lhlo \S+", ehlo_reply("PIPELINING")),
        Expect(rb"(?i)mail from:.*", b"250 ok\r\n"),
        *rcpts,
        Expect(rb"(?i)data", b"354 go ahead\r\n"),
        ReadData(b"250 2.0.0 a delivered\r\n421 4.3.0 shutting down\r\n"),
        Close(),
    )
