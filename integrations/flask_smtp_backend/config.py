"""The ``MAIL_*`` configuration keys: Flask-Mail's, with its defaults, plus this package's."""

from __future__ import annotations

import importlib.util
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .sanitize import AddressLike

#: ``MAIL_QUEUE`` values besides None (send through the app's Mailer).
MAIL_QUEUES = ("celery",)
DEFAULT_QUEUE_BATCH_SIZE = 100


@dataclass(frozen=True)
class MailSettings:
    """One app's mail configuration, read once by ``init_app`` (as Flask-Mail does)."""

    # Flask-Mail 0.10's keys, names and defaults
    server: str = "127.0.0.1"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    port: int = 25
    use_tls: bool = False
    use_ssl: bool = False
    default_sender: AddressLike | None = None
    debug: int = 0
    max_emails: int | None = None
    suppress: bool = False
    ascii_attachments: bool = False
    # this package's keys
    timeout: float | None = None  # seconds; None: the Mailer's default
    url: str | None = field(default=None, repr=False)  # Mailer.from_url form; may hold a password
    pool_size: int | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    oauth_token: str | None = field(default=None, repr=False)
    rate_limit: float | None = None
    retries: int | None = None
    allow_insecure_auth: bool = False
    queue: str | None = None  # "celery": messages are queued for Celery workers, not sent
    queue_batch_size: int = DEFAULT_QUEUE_BATCH_SIZE

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, debug: bool = False, testing: bool = False
    ) -> MailSettings:
        """Read ``config``; ``MAIL_DEBUG`` defaults to ``app.debug`` and
        ``MAIL_SUPPRESS_SEND`` to ``app.testing``, as in Flask-Mail. A mistake that would
        only show at the first send (TLS and SSL both on, an unknown ``MAIL_QUEUE``)
        raises ``ValueError`` here."""
        get = config.get
        ca_file = get("MAIL_CA_FILE")
        if ca_file and not os.path.isfile(ca_file):  # found now, not at the first send
            raise ValueError(f"MAIL_CA_FILE: no such file: {ca_file}")
        if get("MAIL_USE_TLS") and get("MAIL_USE_SSL"):
            raise ValueError(
                "MAIL_USE_TLS and MAIL_USE_SSL are mutually exclusive: set MAIL_USE_SSL for "
                "implicit TLS (usually port 465) or MAIL_USE_TLS for STARTTLS (usually 587)"
            )
        max_emails = get("MAIL_MAX_EMAILS")
        if max_emails is not None and int(max_emails) < 1:
            raise ValueError(f"MAIL_MAX_EMAILS must be a positive number, not {max_emails!r}")
        return cls(
            server=get("MAIL_SERVER", "127.0.0.1"),
            username=get("MAIL_USERNAME"),
            password=get("MAIL_PASSWORD"),
            port=int(get("MAIL_PORT", 25)),
            use_tls=bool(get("MAIL_USE_TLS", False)),
            use_ssl=bool(get("MAIL_USE_SSL", False)),
            default_sender=get("MAIL_DEFAULT_SENDER"),
            debug=int(get("MAIL_DEBUG", debug)),
            max_emails=None if max_emails is None else int(max_emails),
            suppress=bool(get("MAIL_SUPPRESS_SEND", testing)),
            ascii_attachments=bool(get("MAIL_ASCII_ATTACHMENTS", False)),
            timeout=_optional(get("MAIL_TIMEOUT"), float),
            url=get("MAIL_URL"),
            pool_size=_optional(get("MAIL_POOL_SIZE"), int),
            verify_tls=bool(get("MAIL_VERIFY_TLS", True)),
            ca_file=ca_file,
            oauth_token=get("MAIL_OAUTH_TOKEN"),
            rate_limit=_optional(get("MAIL_RATE_LIMIT"), float),
            retries=_optional(get("MAIL_RETRIES"), int),
            allow_insecure_auth=bool(get("MAIL_ALLOW_INSECURE_AUTH", False)),
            queue=_mail_queue(get("MAIL_QUEUE")),
            queue_batch_size=_batch_size(get("MAIL_QUEUE_BATCH_SIZE")),
        )

    def ssl_context(self) -> ssl.SSLContext:
        """Verifying by default (Flask-Mail's smtplib does not verify): ``MAIL_CA_FILE`` is
        trusted when set; ``MAIL_VERIFY_TLS = False`` turns verification off."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _optional(value: Any, kind: type[Any]) -> Any:
    return None if value is None else kind(value)


def _mail_queue(value: Any) -> str | None:
    """``MAIL_QUEUE``: "celery" needs the celery extra installed."""
    if value is None:
        return None
    if value not in MAIL_QUEUES:
        raise ValueError(f"MAIL_QUEUE must be unset (send at once) or 'celery', not {value!r}")
    if importlib.util.find_spec("celery") is None:  # by name: importing it is the queue's job
        raise ImportError("MAIL_QUEUE = 'celery' needs pip install 'smtp-backend[celery]'")
    return str(value)


def _batch_size(value: Any) -> int:
    size = DEFAULT_QUEUE_BATCH_SIZE if value is None else int(value)
    if size < 1:
        raise ValueError(f"MAIL_QUEUE_BATCH_SIZE must be at least 1, not {value!r}")
    return size
