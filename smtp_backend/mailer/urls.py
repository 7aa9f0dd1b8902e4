"""Mailer URLs, as lettre and dj-email-url users know them, -> Mailer keyword arguments.

    smtp://host:25                 plain SMTP (no TLS)
    smtp+starttls://user:pass@host:587?pool_size=4
    smtp+starttls-opportunistic://host:25   STARTTLS when offered, clear text otherwise
    smtps://user:pass@host         TLS from the first byte (465)
    lmtp://host:24                 LMTP over TCP
    lmtp:///var/run/lmtp.sock      LMTP over a Unix socket
    smtp+unix:///var/run/smtp.sock SMTP over a Unix socket

User and password are percent-decoded (``%40`` is ``@``); a ``/``, ``?``, ``#`` or ``@``
in them must be percent-encoded. Query keys are Mailer keyword arguments (``pool_size``,
``timeout``, ``ca_file``, ``dangerously_skip_tls_verify``, ``allow_insecure_auth``...);
an unknown, repeated or malformed one raises ``ValueError``. No error message repeats
the password, whatever the URL (see :func:`redact_url`).

Per-phase time limits are ``timeout_<phase>`` keys, one per :class:`Timeouts` field
(``timeout_connect``, ``timeout_greeting``, ``timeout_command``, ``timeout_data_block``,
``timeout_data_final``, ``timeout_total``): seconds, or ``none`` for no limit. Together
they make the ``timeouts`` argument; a phase not given keeps ``timeout`` when that is in
the URL, else its default::

    smtp+starttls://host?timeout=10&timeout_data_final=120&timeout_total=none
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..timeouts import DEFAULT_TIMEOUTS, Timeouts
from .connect import OPPORTUNISTIC

_SCHEMES: dict[str, tuple[str, str, bool]] = {
    # scheme: (protocol, security, Unix socket)
    "smtp": ("smtp", "none", False),
    "smtp+starttls": ("smtp", "starttls", False),
    f"smtp+{OPPORTUNISTIC}": ("smtp", OPPORTUNISTIC, False),
    "smtps": ("smtp", "tls", False),
    "smtp+tls": ("smtp", "tls", False),
    "smtp+unix": ("smtp", "none", True),
    "lmtp": ("lmtp", "none", False),
    "lmtp+starttls": ("lmtp", "starttls", False),
    "lmtp+unix": ("lmtp", "none", True),
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must not be negative")
    return value


def _boolean(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(f"must be one of {_TRUE + _FALSE}")


def _non_empty(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


def _seconds_or_none(text: str) -> float | None:
    return None if text.lower() == "none" else _positive_float(text)


_QUERY_KEYS: dict[str, Callable[[str], Any]] = {
    "pool_size": _positive_int,
    "max_messages_per_connection": _positive_int,
    "idle_timeout": _positive_float,
    "timeout": _positive_float,
    "local_hostname": _non_empty,
    "pipelining": _boolean,
    "rate_limit": _positive_float,
    "retries": _non_negative_int,
    "retry_delay": _non_negative_float,
    "max_retry_delay": _non_negative_float,
    "ca_file": _non_empty,
    "dangerously_skip_tls_verify": _boolean,
    "allow_insecure_auth": _boolean,
}
_TIMEOUT_PREFIX = "timeout_"
_QUERY_KEYS.update(
    {_TIMEOUT_PREFIX + f.name: _seconds_or_none for f in dataclasses.fields(Timeouts)}
)


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages and logs.

    The user information is found by the last ``@``, not by a URL parser: a password
    holding an unescaped ``#``, ``/`` or ``?`` ends the parser's idea of it early, and
    the rest of the password would show. Without ``://`` all before that ``@`` is hidden.
    """
    head, at, hostinfo = url.rpartition("@")
    if not at:
        return url
    scheme, sep, userinfo = head.partition("://")
    if not sep:
        return f"***@{hostinfo}"
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:***@{hostinfo}" if colon else url


def parse_mailer_url(url: str) -> dict[str, Any]:
    """The Mailer keyword arguments the URL describes (see the module docstring)."""
    shown = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    start = url.find("//")
    if parts is None or "@" in (url[start + 2 + len(parts.netloc) :] if start >= 0 else url):
        # Nothing after the netloc may echo in an error: it may be the rest of a password.
        raise ValueError(
            f"invalid mailer URL {shown}: a bad host or port, or an '@' after the host (a "
            "'/', '?', '#' or '@' in a user name or password must be percent-encoded: "
            "%2F, %3F, %23, %40)"
        )
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise ValueError(f"unknown scheme in mailer URL {shown}: use one of {known}")
    protocol, security, unix = _SCHEMES[scheme]
    if parts.fragment:
        raise ValueError(f"a mailer URL has no #fragment: {shown}")
    options: dict[str, Any] = {"protocol": protocol, "security": security}
    host = urllib.parse.unquote(parts.hostname or "")
    path = urllib.parse.unquote(parts.path)
    if unix or (not host and path.startswith("/") and protocol == "lmtp"):
        if host or port is not None:
            raise ValueError(f"a Unix socket URL has no host or port: {shown} (use three slashes)")
        if not path.startswith("/") or path == "/":
            raise ValueError(f"no Unix socket path in mailer URL {shown}")
        options["host"] = path
    else:
        if not host:
            raise ValueError(f"no host in mailer URL {shown}")
        if path not in ("", "/"):
            raise ValueError(f"unexpected path {parts.path!r} in mailer URL {shown}")
        options["host"] = host
        if port is not None:
            options["port"] = port
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        if not user:
            raise ValueError(f"empty user name in mailer URL {shown}")
        options["username"] = user
        if parts.password is not None:
            options["password"] = urllib.parse.unquote(parts.password)
    options.update(_query_options(parts.query, shown))
    return options


def _query_options(query: str, shown: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ValueError(f"malformed query in mailer URL {shown}: {exc}") from None
    for key, text in pairs:
        convert = _QUERY_KEYS.get(key)
        if convert is None:
            known = ", ".join(sorted(_QUERY_KEYS))
            raise ValueError(f"unknown option {key!r} in mailer URL {shown}; known: {known}")
        if key in options:
            raise ValueError(f"option {key!r} given twice in mailer URL {shown}")
        try:
            options[key] = convert(text)
        except ValueError as exc:
            raise ValueError(
                f"bad value {text!r} for {key!r} in mailer URL {shown}: {exc}"
            ) from None
    phases = {
        key[len(_TIMEOUT_PREFIX) :]: options.pop(key)
        for key in list(options)
        if key.startswith(_TIMEOUT_PREFIX)
    }
    if phases:
        timeout = options.get("timeout")
        base = (
            DEFAULT_TIMEOUTS
            if timeout is None
            else Timeouts.every(timeout, total=DEFAULT_TIMEOUTS.total)
        )
        options["timeouts"] = dataclasses.replace(base, **phases)
    return options
