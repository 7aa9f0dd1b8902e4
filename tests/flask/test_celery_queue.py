"""``MAIL_QUEUE = "celery"``: sends become Celery tasks on a real (in-memory) kombu broker.

A real worker delivering them is in tests/celery/test_frameworks.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("celery")
pytest.importorskip("redis")

from celery import Celery
from flask import Flask

from flask_smtp_backend import Mail, Message
from smtp_backend.celery import TASK_NAME
from tests.flask.conftest import MailFactory
from tests.servers import RecordingSMTPServer


@pytest.fixture
def memory_celery() -> Iterator[Celery]:
    """A Celery app on kombu's in-memory transport, emptied before and after."""
    app = Celery("flask_queue_tests", broker="memory://", set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"])
    taken_tasks(app)
    yield app
    taken_tasks(app)
    app.close()


def taken_tasks(app: Celery) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every task message on the broker's default queue, taken off it: (name, payloads)."""
    found = []
    with app.connection_for_read() as connection, connection.SimpleQueue("celery") as queue:
        while True:
            try:
                message = queue.get(timeout=0.05)
            except queue.Empty:
                return found
            message.ack()
            args, _kwargs, _embed = message.decode()
            found.append((message.headers["task"], args[0]))


def queuing_mail(
    make_mail: MailFactory, server: RecordingSMTPServer, app: Celery, **config: Any
) -> Mail:
    mail = make_mail(server, MAIL_QUEUE="celery", **config)
    mail.app.extensions["celery"] = app
    return mail


def message(n: int) -> Message:
    return Message(f"message {n}", recipients=[f"to{n}@example.test"], body=f"body {n}")


def test_every_way_of_sending_queues_one_task_per_batch_and_sends_nothing_here(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer, memory_celery: Celery
) -> None:
    mail = queuing_mail(make_mail, smtp_server, memory_celery, MAIL_QUEUE_BATCH_SIZE=3)

    with mail.app.app_context(), mail.record_messages() as dispatched:
        mail.send(message(0))
        mail.send_message("message 1", recipients=["to1@example.test"], body="body 1")
        assert mail.send_many([message(n) for n in (2, 3, 4, 5)]) == []
        with mail.connect() as connection:
            for n in range(6, 13):
                connection.send(message(n))
        assert connection.results == []

    tasks = taken_tasks(memory_celery)
    assert smtp_server.messages == [] and smtp_server.connections == 0
    assert {name for name, _ in tasks} == {TASK_NAME}
    assert [len(payloads) for _, payloads in tasks] == [1, 1, 3, 1, 3, 3, 1]
    payloads = [payload for _, batch in tasks for payload in batch]
    assert [p["recipients"] for p in payloads] == [[f"to{n}@example.test"] for n in range(13)]
    assert {p["sender"] for p in payloads} == {"sender@example.test"}
    assert b"body 12" in base64.b64decode(payloads[-1]["data"])
    # email_dispatched: once per message, when it is queued
    assert [m.subject for m in dispatched] == [f"message {n}" for n in range(13)]


def test_suppressed_mail_is_captured_not_queued(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer, memory_celery: Celery
) -> None:
    mail = queuing_mail(make_mail, smtp_server, memory_celery, MAIL_SUPPRESS_SEND=True)

    with mail.app.app_context(), mail.record_messages() as dispatched:
        mail.send(message(0))
        mail.send_many([message(1)])

    assert [m.subject for m in mail.outbox] == ["message 0", "message 1"]
    assert len(dispatched) == 2
    assert taken_tasks(memory_celery) == []
    assert smtp_server.messages == []


def test_a_message_failing_its_checks_queues_nothing(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer, memory_celery: Celery
) -> None:
    mail = queuing_mail(make_mail, smtp_server, memory_celery)

    with mail.app.app_context(), pytest.raises(AssertionError):
        mail.send_many([message(0), Message("no recipient", body="b")])

    assert taken_tasks(memory_celery) == []


@pytest.mark.parametrize("value", ["redis", "Celery", True])
def test_an_unknown_mail_queue_fails_at_init_app(value: object) -> None:
    app = Flask("unknown_queue")
    app.config["MAIL_QUEUE"] = value
    mail = Mail()

    with pytest.raises(ValueError, match=r"MAIL_QUEUE must be unset .* or 'celery', not"):
        mail.init_app(app)
    assert "mail" not in app.extensions


def test_a_batch_size_below_one_fails_at_init_app() -> None:
    app = Flask("no_batch")
    app.config.update(MAIL_QUEUE="celery", MAIL_QUEUE_BATCH_SIZE=0)

    with pytest.raises(ValueError, match="MAIL_QUEUE_BATCH_SIZE must be at least 1"):
        Mail(app)
