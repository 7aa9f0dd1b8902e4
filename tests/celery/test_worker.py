"""Real Celery workers (prefork, not eager) sending queued batches to the recording server."""

from __future__ import annotations

import base64
import collections
import json
import re
import time
from email.message import EmailMessage
from typing import Any

import celery.exceptions
import pytest

from smtp_backend import Envelope
from smtp_backend.celery import enqueue, message_payload
from tests.celery.app import MAX_RETRIES, STEP
from tests.celery.conftest import WorkerFactory
from tests.servers import RecordingSMTPServer

RESULT_TIMEOUT = 40.0  # for all of a test's batches: a lost one fails here, not at pytest's 60 s
_KEY = re.compile(rb"^X-Test-Key: (\S+)\r?$", re.MULTILINE)


def keyed_payloads(count: int, prefix: str = "m") -> list[dict[str, Any]]:
    """Small messages whose key is also in their content, so arrivals can be counted."""
    return [
        message_payload(
            Envelope(
                "sender@example.test",
                [f"rcpt{n % 7}@example.test"],
                f"X-Test-Key: {prefix}{n}\r\nSubject: {n}\r\n\r\nmessage {n}\r\n".encode(),
            ),
            key=f"{prefix}{n}",
        )
        for n in range(count)
    ]


def arrivals(server: RecordingSMTPServer) -> collections.Counter[str]:
    found = (_KEY.search(message.content) for message in server.messages)
    return collections.Counter(match[1].decode() for match in found if match)


def all_results(batches: list[Any]) -> dict[str, dict[str, Any]]:
    results = {}
    deadline = time.monotonic() + RESULT_TIMEOUT
    for batch in batches:
        try:
            got = batch.get(timeout=max(0.1, deadline - time.monotonic()))
        except celery.exceptions.TimeoutError:
            pytest.fail(f"batch {batch.task_id} has no result after {RESULT_TIMEOUT} s")
        assert [result["key"] for result in got] == list(batch.keys)
        results.update((result["key"], result) for result in got)
    return results


def taken_unrecorded(client: Any, batches: list[Any]) -> set[str]:
    """Task ids of the batches in none of the places Redis keeps them: the queue, kombu's
    unacknowledged hash, the results. A worker holds such a batch between its BRPOP and
    its record in ``unacked``."""
    found = {json.loads(raw)["headers"]["id"] for raw in client.lrange("celery", 0, -1)}
    found |= {json.loads(raw)[0]["headers"]["id"] for raw in client.hvals("unacked")}
    found |= {
        key.decode().removeprefix("celery-task-meta-") for key in client.keys("celery-task-meta-*")
    }
    return {batch.task_id for batch in batches} - found


def smtp_url(server: RecordingSMTPServer) -> str:
    return f"smtp://{server.host}:{server.port}"


def test_each_queued_message_arrives_exactly_once(
    smtp_server: RecordingSMTPServer, start_worker: WorkerFactory, celery_app: Any
) -> None:
    worker = start_worker(smtp_url(smtp_server) + "?max_messages_per_connection=1000")
    payloads = keyed_payloads(2000)

    batches = enqueue(payloads, batch_size=50, app=celery_app)
    results = all_results(batches)

    assert len(batches) == 40
    assert {result["state"] for result in results.values()} == {"sent"}
    assert arrivals(smtp_server) == collections.Counter(p["key"] for p in payloads)
    # One Mailer per worker process, reused by all 40 tasks (pool_size 4 each at most).
    assert smtp_server.connections <= 2 * 4
    worker.stop()  # warm shutdown: each process closes its Mailer, which QUITs
    assert smtp_server.verbs().count("QUIT") == smtp_server.connections


def test_worker_killed_mid_run_loses_and_duplicates_nothing(
    smtp_server: RecordingSMTPServer,
    start_worker: WorkerFactory,
    celery_app: Any,
    redis_client: Any,
) -> None:
    url = smtp_url(smtp_server)
    worker = start_worker(url)
    payloads = keyed_payloads(2000)
    batches = enqueue(payloads, batch_size=50, app=celery_app)

    deadline = time.monotonic() + RESULT_TIMEOUT
    while len(smtp_server.messages) < 300 and time.monotonic() < deadline:
        time.sleep(0.005)
    # Not between kombu's BRPOP and its unacked record, where kombu itself loses a batch.
    worker.kill(in_transit=lambda: taken_unrecorded(redis_client, batches))
    arrived_at_kill = len(smtp_server.messages)
    start_worker(url)  # its acks_late batches come back after the visibility timeout
    results = all_results(batches)

    assert 300 <= arrived_at_kill < len(payloads), "the kill must fall in the middle of the run"
    counts = arrivals(smtp_server)
    assert max(counts.values()) == 1, "a message arrived twice"
    unknown = [key for key, result in results.items() if result["state"] == "unknown"]
    # At most one step per pool process was in flight when the worker died.
    assert len(unknown) <= 2 * STEP
    for key, result in results.items():
        if result["state"] == "sent":
            assert counts[key] == 1, key
        else:
            assert result["state"] == "unknown", result
            assert result["error"]["type"] == "DeliveryInterrupted"
            assert counts[key] <= 1
    assert sum(counts.values()) >= len(payloads) - len(unknown)


def test_temporary_failures_are_retried_alone_and_permanent_ones_not(
    smtp_server: RecordingSMTPServer, start_worker: WorkerFactory, celery_app: Any
) -> None:
    start_worker(smtp_url(smtp_server))
    batch = [
        Envelope("a@example.test", ["first@example.test"], b"Subject: 1\r\n\r\none\r\n"),
        Envelope("a@example.test", ["later@tempfail.test"], b"Subject: 2\r\n\r\ntwo\r\n"),
        Envelope("a@example.test", ["nobody@refused.test"], b"Subject: 3\r\n\r\nthree\r\n"),
        Envelope("a@example.test", ["last@example.test"], b"Subject: 4\r\n\r\nfour\r\n"),
    ]

    [queued] = enqueue(batch, app=celery_app)
    first, temporary, permanent, last = queued.get(timeout=RESULT_TIMEOUT)

    assert (first["state"], last["state"]) == ("sent", "sent")
    assert sorted(m.rcpt_tos for m in smtp_server.messages) == [
        ("first@example.test",),
        ("last@example.test",),
    ]
    rcpts = collections.Counter(
        str(c.argument).upper() for c in smtp_server.commands if c.verb == "RCPT"
    )
    assert rcpts["TO:<LATER@TEMPFAIL.TEST>"] == 1 + MAX_RETRIES
    assert rcpts["TO:<NOBODY@REFUSED.TEST>"] == 1
    assert temporary["state"] == "refused"
    assert (temporary["classification"], temporary["retryable"]) == ("temporary", True)
    assert temporary["refused"]["later@tempfail.test"]["code"] == 451
    assert (permanent["classification"], permanent["retryable"]) == ("permanent", False)
    assert permanent["refused"]["nobody@refused.test"]["enhanced"] == "5.1.1"


def test_an_email_message_is_queued_as_the_mailer_would_send_it(
    smtp_server: RecordingSMTPServer, start_worker: WorkerFactory, celery_app: Any
) -> None:
    start_worker(smtp_url(smtp_server))
    message = EmailMessage()
    message["From"] = "Ann <ann@example.test>"
    message["To"] = "bob@example.test"
    message["Bcc"] = "hidden@example.test"
    message["Subject"] = "Grüße"
    message.set_content("Hello, wörld\n")

    [queued] = enqueue(message, app=celery_app)
    [result] = queued.get(timeout=RESULT_TIMEOUT)

    [received] = smtp_server.messages
    assert result["state"] == "sent"
    assert received.mail_from == "ann@example.test"
    assert received.rcpt_tos == ("bob@example.test", "hidden@example.test")
    assert b"Bcc" not in received.content
    assert received.content == message_payload_bytes(message)


def message_payload_bytes(message: EmailMessage) -> bytes:
    return base64.b64decode(message_payload(message)["data"])


def test_a_global_rate_limit_is_one_bucket_in_redis_for_every_worker(
    smtp_server: RecordingSMTPServer,
    start_worker: WorkerFactory,
    celery_app: Any,
    redis_client: Any,
) -> None:
    start_worker(smtp_url(smtp_server), SMTP_BACKEND_TEST_CONF='{"smtp_backend_rate_limit": 500}')
    start_worker(smtp_url(smtp_server), SMTP_BACKEND_TEST_CONF='{"smtp_backend_rate_limit": 500}')

    batches = enqueue(keyed_payloads(40), batch_size=5, app=celery_app)
    results = all_results(batches)

    assert {result["state"] for result in results.values()} == {"sent"}
    assert redis_client.keys("smtp_backend:rate:*") == [
        f"smtp_backend:rate:@{smtp_server.host}:{smtp_server.port}".encode()
    ]
