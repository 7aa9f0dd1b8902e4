"""``ClientSession``: the smtplib-named state of one client session, and the decisions made on it.

Both drivers subclass it; nothing here does I/O except debug output to stderr, and
nothing reads a clock: a driver gives its own (``_clock``).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..errors import SMTPException, SMTPInsecureAuthError, SMTPNotSupportedError, SMTPTimeoutError
from ..timeouts import Phase, Timeouts
from . import sasl
from .features import ServerFeatures

MAX_CHALLENGES = 5  # AUTH challenges answered before giving up, as smtplib
OAUTH_MECHANISMS = ("OAUTHBEARER", "XOAUTH2")  # login_oauth2 tries them in this order
AuthObject = Callable[..., "str | bytes | None"]

logger = logging.getLogger("smtp_backend")


class ClientSession:
    """The smtplib-named state of one client session, and the decisions made on it.

    The engine's dialogues (:mod:`.exchanges`, :mod:`.plans`, :mod:`.setup`) use only its
    public names: ``needs_greeting``, ``forget_session``, ``server_features``,
    ``login_mechanisms``, ``authobject``, ``start_challenges``/``count_challenge``,
    ``print_debug`` and smtplib's attributes. A driver provides ``close``, ``_clock``,
    ``_tls_verified`` and ``_peer_port`` (its I/O), and runs the dialogues' steps.
    """

    debuglevel = 0
    helo_resp: bytes | None = None
    ehlo_msg = "ehlo"
    ehlo_resp: bytes | None = None
    does_esmtp = False
    #: Send MAIL/RCPT/DATA (and BDAT) pipelined when the server offers it.
    pipelining = True
    #: Use BDAT (RFC 3030) in ``send_many`` when the server offers CHUNKING.
    chunking = True
    #: Allow AUTH over an unencrypted connection to a host that is not loopback.
    allow_insecure_auth = False
    #: Send message lines over 998 octets (RFC 5322 §2.1.1) instead of refusing them.
    allow_long_lines = False

    #: Per-phase limits; None: ``timeout`` bounds every wait.
    timeouts: Timeouts | None = None
    # When the public call running must end: its Timeouts.total, or the caller's deadline.
    _call_deadline: float | None = None
    _timeout_error: type[SMTPTimeoutError] = SMTPTimeoutError

    esmtp_features: dict[str, str]
    command_encoding: str
    local_hostname: str
    user: str
    password: str
    timeout: float | None
    source_address: tuple[str, int] | None
    _auth_challenge_count: int
    _host: str
    _redact: bool
    _clock: Callable[[], float]  # the driver's time.monotonic

    def _init_session(
        self,
        host: str,
        *,
        timeout: float | None,
        timeouts: Timeouts | None,
        source_address: tuple[str, int] | None,
    ) -> None:
        self._host = host
        self.timeout = timeout
        self.timeouts = timeouts
        self.source_address = source_address
        self.esmtp_features = {}
        self.command_encoding = "ascii"
        self._auth_challenge_count = 0
        self._redact = False
        self.user = ""
        self.password = ""

    def close(self) -> None:
        """Close the connection without QUIT (the driver's I/O)."""
        raise NotImplementedError

    # -- time limits -----------------------------------------------------------

    def _start_call(self, deadline: float | None = None) -> bool:
        """Bound one public call by ``Timeouts.total`` and the caller's ``deadline`` (a
        ``time.monotonic()`` instant); False inside a call already running (it is bound)."""
        if self._call_deadline is not None:
            return False
        total = self.timeouts.total if self.timeouts is not None else None
        ends = [
            d for d in (deadline, None if total is None else self._clock() + total) if d is not None
        ]
        if not ends:
            return False
        self._call_deadline = min(ends)
        return True

    def _end_call(self, outermost: bool) -> None:
        if outermost:
            self._call_deadline = None

    def _limit(self, phase: Phase) -> float | None:
        """Seconds the next wait in ``phase`` may take: its limit, capped by any deadline."""
        limit = self.timeouts.phase(phase) if self.timeouts is not None else self._default_limit()
        if self._call_deadline is None:
            return limit
        remaining = self._call_deadline - self._clock()
        if remaining <= 0:
            self.close()
            raise self._timeout_error(f"the deadline passed before {phase.replace('_', ' ')}")
        return remaining if limit is None else min(limit, remaining)

    def _default_limit(self) -> float | None:
        """The limit of every phase without ``timeouts``: smtplib's single ``timeout``."""
        return self.timeout

    # -- debugging -----------------------------------------------------------

    def set_debuglevel(self, debuglevel: int) -> None:
        """1: print the conversation to stderr; 2: the same with timestamps."""
        self.debuglevel = debuglevel

    def print_debug(self, *args: object) -> None:
        if self.debuglevel > 1:
            stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")
            print(stamp, *args, file=sys.stderr)
        else:
            print(*args, file=sys.stderr)

    def _trace(self, direction: str, data: object) -> None:
        """One line of the transcript: stderr at debuglevel > 0, logging at DEBUG."""
        if self._redact:
            data = "<credentials redacted>"
        if self.debuglevel > 0:
            self.print_debug(direction, repr(data))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s %r", self._host or "-", direction, data)

    # -- what the server offers ----------------------------------------------

    def has_extn(self, opt: str) -> bool:
        return opt.lower() in self.esmtp_features

    def server_features(self) -> ServerFeatures:
        return ServerFeatures.from_esmtp(
            self.esmtp_features,
            esmtp=self.does_esmtp,
            lmtp=self.ehlo_msg == "lhlo",
            tls_verified=self._tls_verified(),
        )

    def _tls_verified(self) -> bool:
        """True over TLS whose certificate and host name were verified (the driver knows)."""
        return False

    def forget_session(self) -> None:
        """What the server said before STARTTLS or QUIT no longer holds."""
        self.helo_resp = None
        self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False

    def needs_greeting(self) -> bool:
        return self.helo_resp is None and self.ehlo_resp is None

    # -- SASL responses (smtplib's authobject methods) -------------------------

    def start_challenges(self, *, initial_response: bool) -> None:
        """An AUTH exchange begins: an initial response counts as the first answer."""
        self._auth_challenge_count = 1 if initial_response else 0

    def count_challenge(self) -> int:
        """One more 334 challenge answered; how many so far (``auth_login`` reads it)."""
        self._auth_challenge_count += 1
        return self._auth_challenge_count

    def auth_cram_md5(self, challenge: bytes | None = None) -> str | None:
        if challenge is None:
            return None
        return sasl.cram_md5_response(self.user, self.password, challenge).decode()

    def auth_plain(self, challenge: bytes | None = None) -> str:
        return sasl.plain_response(self.user, self.password).decode()

    def auth_login(self, challenge: bytes | None = None) -> str:
        if challenge is None or self._auth_challenge_count < 2:
            return self.user
        return self.password

    def auth_xoauth2(self, challenge: bytes | None = None) -> bytes:
        """XOAUTH2 with ``user`` and ``password`` (the access token); a challenge is an error."""
        if challenge:
            return sasl.oauth_error_ack("XOAUTH2")
        return sasl.xoauth2_response(self.user, self.password)

    def auth_oauthbearer(self, challenge: bytes | None = None) -> bytes:
        """OAUTHBEARER (RFC 7628) with ``user`` and ``password`` (the access token)."""
        if challenge:
            return sasl.oauth_error_ack("OAUTHBEARER")
        return sasl.oauthbearer_response(
            self.user, self.password, self._host or None, self._peer_port()
        )

    def _peer_port(self) -> int | None:
        return None

    def login_mechanisms(
        self, user: str, secret: str, preferred: Iterable[str], what: str
    ) -> list[str]:
        """The mechanisms ``login`` tries, in order; checks and stores the credentials."""
        if not self.has_extn("auth"):
            raise SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        sasl.validate_credential(user, "user")
        sasl.validate_credential(secret, what)
        authlist = sasl.choose_mechanism(self.esmtp_features["auth"].split(), preferred)
        if not authlist:
            raise SMTPException("No suitable authentication method found.")
        self.user, self.password = user, secret
        return authlist

    def authobject(self, mechanism: str) -> AuthObject:
        method: AuthObject = getattr(self, "auth_" + mechanism.lower().replace("-", "_"))
        return method


def insecure_auth_error(host: str) -> SMTPException:
    return SMTPInsecureAuthError(
        f"refusing to send credentials to {host!r} over an unencrypted "
        "connection; call starttls() first, use SMTP_SSL, or set "
        "allow_insecure_auth = True on this object if you accept the risk"
    )


def is_loopback(host: str, peer_address: Any, *, unix_socket: bool = False) -> bool:
    """True for a Unix socket, a loopback peer address, or the name localhost."""
    if unix_socket:
        return True
    if host in ("localhost", "localhost.") or host.endswith(".localhost"):
        return True
    candidates = [host]
    try:
        candidates.append(str(peer_address[0]))
    except (TypeError, IndexError, KeyError):
        pass
    for candidate in candidates:
        try:
            if ipaddress.ip_address(candidate.strip("[]")).is_loopback:
                return True
        except ValueError:
            continue
    return False


class HostNames(Protocol):
    """The ``socket`` functions that name this host (the module itself, or a test's stand-in)."""

    def getfqdn(self, name: str = ..., /) -> str: ...
    def gethostname(self) -> str: ...
    def gethostbyname(self, hostname: str, /) -> str: ...


def default_local_hostname(names: HostNames) -> str:
    """smtplib's name for EHLO: the FQDN, else this host's address literal."""
    fqdn = names.getfqdn()
    if "." in fqdn:
        return fqdn
    try:
        return f"[{names.gethostbyname(names.gethostname())}]"
    except OSError:
        return "[127.0.0.1]"
