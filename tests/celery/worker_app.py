"""``celery -A tests.celery.worker_app worker``: the test app on ``$SMTP_BACKEND_TEST_REDIS``,
with any more configuration from ``$SMTP_BACKEND_TEST_CONF`` (a JSON object)."""

from __future__ import annotations

import json
import os

from tests.celery.app import REDIS_ENVIRONMENT, make_app

app = make_app(
    os.environ[REDIS_ENVIRONMENT], **json.loads(os.environ.get("SMTP_BACKEND_TEST_CONF", "{}"))
)
