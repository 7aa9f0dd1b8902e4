"""``CeleryEmailBackend``: queue Django's messages for Celery workers instead of sending them.

    EMAIL_BACKEND = "django_smtp_backend.celery_backend.CeleryEmailBackend"

Each ``send_messages`` call becomes batches of ``SMTP_BACKEND_CELERY_BATCH_SIZE``
(100) messages, serialised as their exact bytes and envelope (see
``smtp_backend.celery``); the workers send them through their own Mailer
(``CELERY_SMTP_BACKEND_URL`` with ``app.config_from_object("django.conf:settings",
namespace="CELERY")``). Needs ``smtp-backend[celery]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

from smtp_backend.celery import QueuedBatch, enqueue

from .envelopes import django_envelope
from .signals import pre_send_allows


class CeleryEmailBackend(BaseEmailBackend):
    """Django's backend contract, queueing: ``send_messages`` returns how many were queued.

    ``celery_app`` (default: Celery's current app), ``batch_size``, ``queue_options``
    (``send_task`` keywords such as ``queue``) and ``smtputf8`` (queue non-ASCII local
    parts, sent with SMTPUTF8, as ``EmailBackend(smtputf8=True)``) may be given as
    keywords (Django 6.1: a ``MAILERS`` entry's ``OPTIONS``). A message without
    recipients is skipped; an invalid address (a non-ASCII local part without
    ``smtputf8``, as Django 6.1) raises ``ValueError`` before anything is queued; a
    broker error is raised unless ``fail_silently``.
    ``last_batches`` holds the queued batches of the last call (keys and results).
    """

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        celery_app: Any = None,
        batch_size: int | None = None,
        queue_options: dict[str, Any] | None = None,
        smtputf8: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.celery_app = celery_app
        self.batch_size = batch_size or getattr(settings, "SMTP_BACKEND_CELERY_BATCH_SIZE", 100)
        self.queue_options = dict(queue_options or {})
        self.smtputf8 = smtputf8
        self.last_batches: list[QueuedBatch] = []

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        self.last_batches = []
        envelopes = [
            envelope
            for message in email_messages or ()
            if pre_send_allows(self, message)
            and (envelope := django_envelope(message, smtputf8=self.smtputf8)) is not None
        ]
        if not envelopes:
            return 0
        try:
            self.last_batches = enqueue(
                envelopes, batch_size=self.batch_size, app=self.celery_app, **self.queue_options
            )
        except Exception:
            if self.fail_silently:
                return 0
            raise
        return len(envelopes)
