"""The Celery app of these tests, for the worker subprocess and the test process alike.

The worker runs ``celery -A tests.celery.worker_app worker`` with its broker, result
backend and ledger on the test's Redis (``SMTP_BACKEND_TEST_REDIS``) and the Mailer
URL in ``SMTP_BACKEND_URL``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

REDIS_ENVIRONMENT = "SMTP_BACKEND_TEST_REDIS"
VISIBILITY_TIMEOUT = 4  # seconds before a dead worker's unacknowledged batch is redelivered
STEP = 10
LEASE = 2.0
RETRY_DELAY = 0.2
MAX_RETRIES = 2


def make_app(redis_url: str, **conf: Any) -> Celery:
    app = Celery("smtp_backend_tests", broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        imports=["smtp_backend.celery"],
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": 2,  # a worker killed holding the restore lock blocks it so long
        },
        result_expires=600,
        smtp_backend_step=STEP,
        smtp_backend_lease=LEASE,
        smtp_backend_retry_delay=RETRY_DELAY,
        smtp_backend_max_retries=MAX_RETRIES,
        **conf,
    )
    return app
