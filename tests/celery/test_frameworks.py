"""Django and Flask queueing to real Celery workers: each message arrives exactly once."""

from __future__ import annotations

import collections
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

if importlib.util.find_spec("django_smtp_backend") is None:  # a plain checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integrations"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.settings")

import django
import pytest

django.setup()

from django.core import mail as django_mail  # noqa: E402

from tests.celery.conftest import WorkerFactory  # noqa: E402
from tests.celery.test_worker import RESULT_TIMEOUT, all_results, arrivals, smtp_url  # noqa: E402
from tests.servers import RecordingSMTPServer  # noqa: E402

COUNT = 1500


def test_django_messages_queued_by_the_celery_backend_arrive_exactly_once(
    smtp_server: RecordingSMTPServer, start_worker: WorkerFactory, celery_app: Any
) -> None:
    start_worker(smtp_url(smtp_server))
    backend = django_mail.get_connection(
        "django_smtp_backend.celery_backend.CeleryEmailBackend", celery_app=celery_app
    )
    messages = [
        django_mail.EmailMessage(
            f"Subject {n}",
            f"body {n}\n",
            to=[f"user{n}@example.test"],
            bcc=["audit@example.test"],
            headers={"X-Test-Key": f"d{n}"},
        )
        for n in range(COUNT)
    ]

    assert backend.send_messages(messages) == COUNT
    results = all_results(backend.last_batches)

    assert {result["state"] for result in results.values()} == {"sent"}
    assert arrivals(smtp_server) == collections.Counter(f"d{n}" for n in range(COUNT))
    first = next(m for m in smtp_server.messages if b"X-Test-Key: d0\r\n" in m.content)
    assert first.mail_from == "webmaster@example.test"
    assert first.rcpt_tos == ("user0@example.test", "audit@example.test")
    assert b"Bcc" not in first.content


def test_django_celery_backend_queues_non_ascii_local_parts_only_when_asked(
    smtp_server: RecordingSMTPServer, start_worker: WorkerFactory, celery_app: Any
) -> None:
    backend_path = "django_smtp_backend.celery_backend.CeleryEmailBackend"
    message = django_mail.EmailMessage(
        "Grüße", "Hallo", "señor@example.test", ["jösé@example.test"]
    )
    plain = django_mail.get_connection(backend_path, celery_app=celery_app)
    with pytest.raises(ValueError, match="local-part contains non-ASCII characters"):
        plain.send_messages([message])  # as Django 6.1's own backend: refused, not queued
    assert plain.last_batches == []

    start_worker(smtp_url(smtp_server))
    utf8 = django_mail.get_connection(backend_path, celery_app=celery_app, smtputf8=True)
    assert utf8.send_messages([message]) == 1
    assert {result["state"] for result in all_results(utf8.last_batches).values()} == {"sent"}
    [received] = smtp_server.messages
    assert received.smtp_utf8
    assert (received.mail_from, received.rcpt_tos) == ("señor@example.test", ("jösé@example.test",))


def test_flask_messages_queued_with_enqueue_mail_arrive_exactly_once(
    smtp_server: RecordingSMTPServer, start_worker: WorkerFactory, celery_app: Any
) -> None:
    from flask import Flask

    from flask_smtp_backend import Mail, Message
    from flask_smtp_backend.celery_queue import enqueue_mail

    start_worker(smtp_url(smtp_server))
    app = Flask("queued")
    app.config.update(MAIL_DEFAULT_SENDER="app@example.test", MAIL_QUEUE_BATCH_SIZE=60)
    mail = Mail(app)
    messages = [
        Message(
            f"Subject {n}",
            recipients=[f"user{n}@example.test"],
            body=f"body {n}",
            extra_headers={"X-Test-Key": f"f{n}"},
        )
        for n in range(COUNT)
    ]

    with app.app_context():
        batches = enqueue_mail(messages, celery_app=celery_app)
    results = all_results(batches)

    assert len(batches) == COUNT // 60
    assert {result["state"] for result in results.values()} == {"sent"}
    assert arrivals(smtp_server) == collections.Counter(f"f{n}" for n in range(COUNT))
    assert {m.mail_from for m in smtp_server.messages} == {"app@example.test"}
    mail.state.close()


def test_flask_suppressed_mail_is_captured_not_queued(celery_app: Any, redis_client: Any) -> None:
    from flask import Flask

    from flask_smtp_backend import Mail, Message
    from flask_smtp_backend.celery_queue import enqueue_mail

    app = Flask("suppressed")
    app.config.update(MAIL_DEFAULT_SENDER="app@example.test", TESTING=True)
    mail = Mail(app)

    with app.app_context():
        assert (
            enqueue_mail(Message("hi", recipients=["a@example.test"]), celery_app=celery_app) == []
        )
        assert [m.subject for m in mail.outbox] == ["hi"]
    assert redis_client.llen("celery") == 0


def wait_until_all_done(redis_client: Any) -> None:
    """Until no task waits in the queue or runs unacknowledged (acks_late: acked once done)."""
    deadline = time.monotonic() + RESULT_TIMEOUT
    while redis_client.llen("celery") or redis_client.hlen("unacked"):
        assert time.monotonic() < deadline, "the workers did not finish the queued batches"
        time.sleep(0.05)


def test_flask_with_mail_queue_celery_delivers_every_send_through_the_workers_once(
    smtp_server: RecordingSMTPServer,
    start_worker: WorkerFactory,
    celery_app: Any,
    redis_client: Any,
) -> None:
    from flask import Flask

    from flask_smtp_backend import Mail, Message

    start_worker(smtp_url(smtp_server))
    app = Flask("mail_queue")
    app.config.update(
        MAIL_DEFAULT_SENDER="app@example.test",
        MAIL_SERVER="192.0.2.1",  # unroutable: only the workers' Mailer may send
        MAIL_QUEUE="celery",
        MAIL_QUEUE_BATCH_SIZE=40,
    )
    app.extensions["celery"] = celery_app
    mail = Mail(app)

    def message(n: int) -> Message:
        return Message(
            f"Subject {n}",
            recipients=[f"user{n}@example.test"],
            body=f"body {n}",
            extra_headers={"X-Test-Key": f"q{n}"},
        )

    with app.app_context(), mail.record_messages() as dispatched:
        mail.send(message(0))
        mail.send_message(
            "Subject 1", recipients=["user1@example.test"], extra_headers={"X-Test-Key": "q1"}
        )
        assert mail.send_many([message(n) for n in range(2, 100)]) == []
        with mail.connect() as connection:
            for n in range(100, COUNT):
                connection.send(message(n))
    wait_until_all_done(redis_client)

    assert len(dispatched) == COUNT
    assert arrivals(smtp_server) == collections.Counter(f"q{n}" for n in range(COUNT))
    assert {m.mail_from for m in smtp_server.messages} == {"app@example.test"}
    assert redis_client.keys("celery-task-meta-*"), "the workers recorded no result"
