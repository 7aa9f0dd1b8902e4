"""The batch decision without a worker: real Redis ledger, real Mailer, the recording server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from smtp_backend import DSN, Envelope, Mailer, RecipientDSN
from smtp_backend.celery import (
    BatchSender,
    Ledger,
    Owner,
    RedisTokenBucket,
    envelope_from_payload,
    message_payload,
)
from tests.celery.test_worker import arrivals, keyed_payloads
from tests.servers import RecordingSMTPServer


@pytest.fixture
def mailer(smtp_server: RecordingSMTPServer) -> Iterator[Mailer]:
    with Mailer(smtp_server.host, smtp_server.port, security="none") as mailer:
        yield mailer


@pytest.fixture
def ledger(redis_client: Any) -> Ledger:
    return Ledger(redis_client, ttl=60)


def dead_owner() -> Owner:
    """An owner whose process has exited, on this host."""
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True
    )
    return Owner("dead", socket.gethostname(), int(process.stdout))


def me() -> Owner:
    return Owner.this_process("test")


def test_a_step_a_dead_delivery_claimed_is_unknown_and_the_rest_is_sent(
    mailer: Mailer, ledger: Ledger, smtp_server: RecordingSMTPServer
) -> None:
    payloads = keyed_payloads(30)
    ledger.claim([p["key"] for p in payloads[10:20]], dead_owner(), attempt=0)
    sender = BatchSender(mailer, ledger, step=10, lease=30)

    outcome = sender.send(payloads, owner=me(), attempt=0, last=False)

    states = [result["state"] for result in outcome.results]
    assert states == ["sent"] * 10 + ["unknown"] * 10 + ["sent"] * 10
    assert [result["index"] for result in outcome.results] == list(range(30))
    assert set(arrivals(smtp_server)) == {p["key"] for p in payloads[:10] + payloads[20:]}


def test_a_redelivered_batch_reports_what_was_recorded_and_sends_nothing_again(
    mailer: Mailer, ledger: Ledger, smtp_server: RecordingSMTPServer
) -> None:
    payloads = keyed_payloads(25)
    sender = BatchSender(mailer, ledger, step=10)
    first = sender.send(payloads, owner=me(), attempt=0, last=False)

    again = sender.send(payloads, owner=Owner.this_process("redelivery"), attempt=0, last=False)

    assert again.results == first.results
    assert len(smtp_server.messages) == 25


def test_a_live_delivery_is_waited_for_and_its_result_reported(
    mailer: Mailer, ledger: Ledger, smtp_server: RecordingSMTPServer
) -> None:
    payloads = keyed_payloads(1)
    other = Owner.this_process("still running")
    ledger.claim(["m0"], other, attempt=0)
    recorded = {"key": "m0", "index": 0, "state": "sent", "retryable": False}
    finish = threading.Timer(0.3, ledger.record, [[("m0", {"s": "done", "result": recorded})]])
    finish.start()

    outcome = BatchSender(mailer, ledger, lease=30).send(
        payloads, owner=me(), attempt=0, last=False
    )

    assert outcome.results == [recorded]
    assert smtp_server.messages == []


def test_a_temporary_failure_waits_for_the_next_attempt_alone(
    mailer: Mailer, ledger: Ledger, smtp_server: RecordingSMTPServer
) -> None:
    payloads = [
        message_payload(Envelope("a@example.test", ["x@tempfail.test"], b"S: 1\r\n\r\n1\r\n")),
        message_payload(Envelope("a@example.test", ["y@example.test"], b"S: 2\r\n\r\n2\r\n")),
    ]
    sender = BatchSender(mailer, ledger)

    first = sender.send(payloads, owner=me(), attempt=0, last=False)
    retried = sender.send(payloads, owner=me(), attempt=1, last=True)

    assert first.retrying and not retried.retrying
    assert [r["state"] for r in retried.results] == ["refused", "sent"]
    assert len(smtp_server.messages) == 1
    rcpts = [c.argument for c in smtp_server.commands if c.verb == "RCPT"]
    assert rcpts == ["to:<x@tempfail.test>", "to:<y@example.test>", "to:<x@tempfail.test>"]
    assert ledger.look([payloads[0]["key"]])[0]["s"] == "done"


def test_no_connection_means_not_attempted_and_retryable(ledger: Ledger) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    mailer = Mailer("127.0.0.1", port, security="none", timeout=5)

    outcome = BatchSender(mailer, ledger).send(keyed_payloads(3), owner=me(), attempt=0, last=False)

    assert {r["state"] for r in outcome.results} == {"not_attempted"}
    assert {r["error"]["type"] for r in outcome.results} == {"ConnectionRefusedError"}
    assert outcome.retrying


def test_payloads_are_json_and_keep_every_part_of_the_envelope() -> None:
    envelope = Envelope(
        "ann@example.test",
        ["bob@example.test", "zoë@example.test"],
        b"Subject: x\r\n\r\n\x00\xff binary\r\n.\r\n",
        ["SMTPUTF8"],
        ["NOTIFY=NEVER"],
        dsn=DSN(
            notify=("SUCCESS", "FAILURE"),
            ret="HDRS",
            envid="e1",
            recipients={"bob@example.test": RecipientDSN("NEVER", "b@old.test")},
        ),
        require_tls=True,
    )

    payload = json.loads(json.dumps(message_payload(envelope, key="k")))

    assert envelope_from_payload(payload) == envelope
    assert payload["key"] == "k"


def test_buckets_with_one_key_share_their_tokens_across_workers(redis_client: Any) -> None:
    waits: list[float] = []
    workers = [
        RedisTokenBucket(redis_client, "smtp_backend:rate:acct", 10, burst=2, sleep=waits.append)
        for _ in range(2)
    ]
    other_account = RedisTokenBucket(redis_client, "smtp_backend:rate:other", 10, burst=2)

    started = time.monotonic()
    for n in range(8):
        workers[n % 2].acquire()
    elapsed = time.monotonic() - started

    # 2 tokens at once, then one per 0.1 s reserved for whichever worker asks next.
    assert len(waits) >= 6 - round(elapsed * 10)
    assert waits[-1] >= (8 - 2) / 10 - elapsed - 1e-6
    assert waits == sorted(waits)
    assert other_account.acquire() == 0
