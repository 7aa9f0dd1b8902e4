"""The backend's options -> one frozen, hashable ``MailerConfig``: the key of a shared Mailer.

Two ways in, as Django's own SMTP backend: the classic one (no alias: unset keywords
fall back to the ``EMAIL_*`` settings, and this backend's extra options to
``EMAIL_SSL_CAFILE`` and the ``SMTP_BACKEND_OPTIONS`` dict) and Django 6.1's ``MAILERS``
(an alias: only the OPTIONS count, no setting is ever read, the port follows the
security mode). Either way an unknown option or a missing CA file is an error at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

try:  # Django 6.1+: the error MAILERS raises for a bad entry
    from django.core.mail import InvalidMailer
except ImportError:  # Django < 6.1 has no MAILERS (and no alias reaches us)
    InvalidMailer = None

TLS_SSL_EXCLUSIVE = (
    "EMAIL_USE_TLS/EMAIL_USE_SSL are mutually exclusive, so only set one of those settings to True."
)
_DOTTED_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")

TokenSource = str | Callable[[], str]


@dataclass(frozen=True)
class MailerConfig:
    """Everything that decides how mail leaves: two equal configs may share one Mailer.

    ``None`` in an extra option means "the Mailer's default".
    """

    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    use_ssl: bool = False
    timeout: float | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cafile: str | None = None
    pool_size: int | None = None
    max_messages_per_connection: int | None = None
    idle_timeout: float | None = None
    pipelining: bool = True
    retries: int | None = None
    rate_limit: float | None = None
    oauth_token: TokenSource | None = field(default=None, repr=False)
    url: str | None = field(default=None, repr=False)
    capture: bool = False
    allow_insecure_auth: bool = False
    smtputf8: bool = False

    @property
    def security(self) -> str:
        """The Mailer's name for the mode: implicit TLS, STARTTLS, or none (Django's default)."""
        if self.use_ssl:
            return "tls"
        return "starttls" if self.use_tls else "none"


#: Django's SMTP keyword -> the classic setting it falls back to.
CLASSIC_SETTINGS = {
    "host": "EMAIL_HOST",
    "port": "EMAIL_PORT",
    "username": "EMAIL_HOST_USER",
    "password": "EMAIL_HOST_PASSWORD",
    "use_tls": "EMAIL_USE_TLS",
    "use_ssl": "EMAIL_USE_SSL",
    "timeout": "EMAIL_TIMEOUT",
    "ssl_keyfile": "EMAIL_SSL_KEYFILE",
    "ssl_certfile": "EMAIL_SSL_CERTFILE",
}
#: Classic settings: this backend's extra options, beside ``EMAIL_SSL_CAFILE``.
OPTIONS_SETTING = "SMTP_BACKEND_OPTIONS"
CAFILE_SETTING = "EMAIL_SSL_CAFILE"
# The settings the url form replaces; keyfile/certfile/timeout still apply to it.
_URL_REPLACES = ("host", "port", "username", "password", "use_tls", "use_ssl")


def resolve_oauth_token(value: Any) -> TokenSource | None:
    """A token, or a callable returning one: a callable object, or a dotted path to one.

    A string is taken as a dotted path only when it looks like one and its first part
    is an importable module; then the attribute must exist and be callable.
    """
    if value is None or callable(value):
        return value
    if not isinstance(value, str):
        raise ImproperlyConfigured(f"oauth_token must be a string or a callable, not {value!r}")
    if _DOTTED_PATH.fullmatch(value) and _module_exists(value.partition(".")[0]):
        try:
            provider = import_string(value)
        except ImportError as error:
            raise ImproperlyConfigured(f"oauth_token: cannot import {value!r}: {error}") from error
        if not callable(provider):
            raise ImproperlyConfigured(f"oauth_token: {value!r} is not callable")
        return provider  # type: ignore[no-any-return]
    return value


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def classic_config(django_options: dict[str, Any], extra: dict[str, Any]) -> MailerConfig:
    """Django's classic rules: a keyword left ``None`` (host, port: falsy) reads its setting;
    an extra keyword left ``None`` reads ``SMTP_BACKEND_OPTIONS`` (``ssl_cafile``: also
    ``EMAIL_SSL_CAFILE``).

    Raises ``ImproperlyConfigured`` naming the setting for an unknown option in
    ``SMTP_BACKEND_OPTIONS`` or a CA file that does not exist.
    """
    values = dict(django_options)
    extra = _with_option_settings(extra)
    url = extra.get("url")
    if url is not None:
        _check_url_alone(
            {name: value for name, value in values.items() if value is not None}, ValueError
        )
    for name, setting in CLASSIC_SETTINGS.items():
        if url is not None and name in _URL_REPLACES:
            continue
        given = values.get(name)
        missing = not given if name in ("host", "port") else given is None
        if missing:
            values[name] = getattr(settings, setting)
    if values.get("use_ssl") and values.get("use_tls"):
        raise ValueError(TLS_SSL_EXCLUSIVE)
    return _build(values, extra)


def mailers_config(
    django_options: dict[str, Any], extra: dict[str, Any], alias: str
) -> MailerConfig:
    """Django 6.1's MAILERS rules for the OPTIONS of ``alias``; no setting is read."""
    values = {name: value for name, value in django_options.items() if value is not None}
    if extra.get("url") is not None:
        _check_url_alone(values, lambda message: _invalid(message, alias))
    elif values.get("host") is None and not extra.get("capture"):
        raise _invalid("OPTIONS must define 'host'. ('url' may stand for it.)", alias)
    _check_cafile(
        extra.get("ssl_cafile"), lambda message: _invalid(f"'ssl_cafile': {message}", alias)
    )
    if values.get("use_ssl") and values.get("use_tls"):
        raise _invalid(
            "The 'use_ssl' and 'use_tls' OPTIONS are incompatible. "
            "Set at most one of them to True.",
            alias,
        )
    if values.get("port") is None and extra.get("url") is None:
        values["port"] = 465 if values.get("use_ssl") else 587 if values.get("use_tls") else 25
    return _build(values, extra)


def _with_option_settings(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` with each option left ``None`` taken from the classic settings."""
    configured = getattr(settings, OPTIONS_SETTING, None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(f"{OPTIONS_SETTING} must be a dict, not {configured!r}")
    unknown = sorted(set(configured) - set(extra))
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        known = ", ".join(repr(name) for name in sorted(extra))
        raise ImproperlyConfigured(f"{OPTIONS_SETTING}: unknown option {names} (known: {known})")
    merged = dict(extra)
    source = "ssl_cafile"  # where the CA file came from, for the error
    for name, value in configured.items():
        if merged[name] is None:
            merged[name] = value
            source = f"{OPTIONS_SETTING}['ssl_cafile']" if name == "ssl_cafile" else source
    if merged["ssl_cafile"] is None and getattr(settings, CAFILE_SETTING, None) is not None:
        merged["ssl_cafile"], source = getattr(settings, CAFILE_SETTING), CAFILE_SETTING
    _check_cafile(
        merged["ssl_cafile"], lambda message: ImproperlyConfigured(f"{source}: {message}")
    )
    return merged


def _check_cafile(path: Any, error: Callable[[str], Exception]) -> None:
    # Else the first TLS connection fails, maybe long after start-up, far from the setting.
    if path is not None and not os.path.isfile(path):
        raise error(f"the CA file {path!r} does not exist")


def _check_url_alone(given: dict[str, Any], error: Callable[[str], Exception]) -> None:
    clash = [repr(name) for name in _URL_REPLACES if name in given]
    if clash:
        raise error(f"'url' replaces {', '.join(clash)}: give one or the other.")


def _invalid(message: str, alias: str) -> ImproperlyConfigured:
    if InvalidMailer is None:
        return ImproperlyConfigured(f"MAILERS[{alias!r}]: {message}")
    return InvalidMailer(message, alias=alias)  # type: ignore[no-any-return]


def _build(values: dict[str, Any], extra: dict[str, Any]) -> MailerConfig:
    options = {name: value for name, value in extra.items() if value is not None}
    if "oauth_token" in options:
        options["oauth_token"] = resolve_oauth_token(options["oauth_token"])
    return MailerConfig(
        host=values.get("host"),
        port=int(values["port"]) if values.get("port") else None,
        username=values.get("username"),
        password=values.get("password"),
        use_tls=bool(values.get("use_tls")),
        use_ssl=bool(values.get("use_ssl")),
        timeout=values.get("timeout"),
        ssl_certfile=values.get("ssl_certfile"),
        ssl_keyfile=values.get("ssl_keyfile"),
        **options,
    )
