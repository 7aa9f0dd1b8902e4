"""``celery -A tests.celery.worker_app worker``: the test app on ``$SMTP_BACKEND_TEST_REDIS``."""

from __future__ import annotations

import os

from tests.celery.app import REDIS_ENVIRONMENT, make_app

app = make_app(os.environ[REDIS_ENVIRONMENT])
