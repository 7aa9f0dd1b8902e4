"""The worker side's configuration and its per-process state: one Mailer, one ledger.

Both are made lazily by the first task a process runs (so after Celery's prefork
pool has forked), reused by every later task of that process, and closed when the
process shuts down (``worker_process_shutdown``; ``worker_shutdown`` for the solo
and thread pools).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis  # type: ignore[import-not-found,unused-ignore]

from ..mailer import Mailer
from ..mailer.urls import parse_mailer_url
from .batch import DEFAULT_LEASE, DEFAULT_STEP, BatchSender
from .ledger import DEFAULT_TTL, Ledger
from .redis_bucket import RedisTokenBucket

__all__ = ["WorkerContext", "WorkerSettings", "close_worker_context", "worker_context"]

URL_ENVIRONMENT = "SMTP_BACKEND_URL"
REDIS_URL_ENVIRONMENT = "SMTP_BACKEND_REDIS_URL"


def _redis_broker(conf: Mapping[str, Any]) -> str | None:
    broker = conf.get("broker_url")
    if isinstance(broker, str) and broker.split("://", 1)[0] in ("redis", "rediss", "unix"):
        return broker.split(";", 1)[0]  # the first of several failover URLs
    return None


@dataclass(frozen=True)
class WorkerSettings:
    """Read from the Celery app's configuration (Django: ``CELERY_SMTP_BACKEND_*``).

    ``smtp_backend_url`` (else ``$SMTP_BACKEND_URL``): the Mailer's URL;
    ``smtp_backend_options``: more Mailer keywords; ``smtp_backend_mailer``: a callable
    or its dotted path, called with those keywords, to build the Mailer instead.
    ``smtp_backend_redis_url`` (else ``$SMTP_BACKEND_REDIS_URL``, else a Redis broker's
    URL): the ledger's and the rate limit's Redis. ``smtp_backend_rate_limit``: messages
    a second across all workers sharing ``smtp_backend_rate_key`` (default: the
    account, user@host:port). Retries: ``smtp_backend_max_retries`` (5),
    ``smtp_backend_retry_delay`` (60 s, doubled each time) up to
    ``smtp_backend_max_retry_delay`` (3600 s). ``smtp_backend_step`` (10) messages are
    claimed and sent at a time; ``smtp_backend_lease`` (60 s) is how long a redelivery
    waits for another live delivery's step; ``smtp_backend_ledger_ttl`` (7 days).
    """

    url: str | None = field(default=None, repr=False)  # may hold a password
    options: Mapping[str, Any] = field(default_factory=dict)
    mailer_factory: Callable[..., Mailer] | str | None = None
    redis_url: str | None = field(default=None, repr=False)  # may hold a password
    rate_limit: float | None = None
    rate_burst: float | None = None
    rate_key: str | None = None
    max_retries: int = 5
    retry_delay: float = 60.0
    max_retry_delay: float = 3600.0
    step: int = DEFAULT_STEP
    lease: float = DEFAULT_LEASE
    ledger_ttl: int = DEFAULT_TTL

    @classmethod
    def from_conf(
        cls, conf: Mapping[str, Any], environ: Mapping[str, str] = os.environ
    ) -> WorkerSettings:
        def get(name: str, default: Any) -> Any:
            value = conf.get(f"smtp_backend_{name}")
            return default if value is None else value

        return cls(
            url=get("url", environ.get(URL_ENVIRONMENT)),
            options=dict(get("options", {})),
            mailer_factory=get("mailer", None),
            redis_url=get("redis_url", environ.get(REDIS_URL_ENVIRONMENT) or _redis_broker(conf)),
            rate_limit=get("rate_limit", None),
            rate_burst=get("rate_burst", None),
            rate_key=get("rate_key", None),
            max_retries=int(get("max_retries", cls.max_retries)),
            retry_delay=float(get("retry_delay", cls.retry_delay)),
            max_retry_delay=float(get("max_retry_delay", cls.max_retry_delay)),
            step=int(get("step", cls.step)),
            lease=float(get("lease", cls.lease)),
            ledger_ttl=int(get("ledger_ttl", cls.ledger_ttl)),
        )

    def retry_countdown(self, attempt: int) -> float:
        """Seconds before retry number ``attempt + 1``: exponential, capped."""
        return float(min(self.retry_delay * 2**attempt, self.max_retry_delay))

    def account_key(self) -> str:
        """The rate limit's bucket name: the configured key, else user@host:port of the URL."""
        if self.rate_key:
            return f"smtp_backend:rate:{self.rate_key}"
        if self.url is None:
            return "smtp_backend:rate:default"
        parsed = parse_mailer_url(self.url)
        user = parsed.get("username") or ""
        return f"smtp_backend:rate:{user}@{parsed.get('host')}:{parsed.get('port') or ''}"


def _resolve(factory: Callable[..., Mailer] | str) -> Callable[..., Mailer]:
    if callable(factory):
        return factory
    module, _, name = factory.replace(":", ".").rpartition(".")
    resolved: Callable[..., Mailer] = getattr(importlib.import_module(module), name)
    return resolved


class WorkerContext:
    """What one worker process keeps between tasks."""

    def __init__(self, settings: WorkerSettings) -> None:
        if settings.redis_url is None:
            raise RuntimeError(
                "smtp_backend.celery needs Redis for its idempotency ledger: set "
                f"smtp_backend_redis_url, ${REDIS_URL_ENVIRONMENT}, or use a Redis broker"
            )
        self.settings = settings
        self.redis = redis.Redis.from_url(settings.redis_url)
        options = dict(settings.options)
        if settings.rate_limit is not None:
            options["rate_limit"] = RedisTokenBucket(
                self.redis, settings.account_key(), settings.rate_limit, settings.rate_burst
            )
        if settings.mailer_factory is not None:
            self.mailer = _resolve(settings.mailer_factory)(**options)
        elif settings.url is not None:
            self.mailer = Mailer.from_url(settings.url, **options)
        else:
            raise RuntimeError(
                "smtp_backend.celery has no mailer: set smtp_backend_url (or "
                f"${URL_ENVIRONMENT}) or smtp_backend_mailer"
            )
        self.ledger = Ledger(self.redis, ttl=settings.ledger_ttl)
        self.sender = BatchSender(
            self.mailer, self.ledger, step=settings.step, lease=settings.lease
        )

    def close(self) -> None:
        self.mailer.close()
        self.redis.close()


_lock = threading.Lock()
_context: WorkerContext | None = None
_context_pid = 0


def worker_context(conf: Mapping[str, Any]) -> WorkerContext:
    """This process's context, made on first use (a forked child makes its own)."""
    global _context, _context_pid
    with _lock:
        if _context is None or _context_pid != os.getpid():
            _context = WorkerContext(WorkerSettings.from_conf(conf))
            _context_pid = os.getpid()
        return _context


def close_worker_context(**_signal_arguments: Any) -> None:
    """Close this process's Mailer and Redis connections (a Celery signal receiver)."""
    global _context
    with _lock:
        context, _context = _context, None
    if context is not None and _context_pid == os.getpid():
        context.close()
