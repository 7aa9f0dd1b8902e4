"""Every fault of tests/faults/scenarios.py, against SMTP, AsyncSMTP and Mailer.

For each fault: the client raises the documented exception or reports each message
sent, refused, not attempted or unknown (never wrongly sent) within its time limits;
the connection is closed, never reused; a Mailer sends the next message on a fresh
connection; no thread and no socket outlives the test.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from smtp_backend import Envelope, MessageState
from smtp_backend.aio import AsyncSMTP
from smtp_backend.client import SMTP
from smtp_backend.errors import SMTPConnectError, SMTPTimeoutError
from smtp_backend.mailer import Mailer
from smtp_backend.timeouts import Timeouts
from tests.faults.scenarios import FAULTS, NOT_ATTEMPTED, SENT, UNKNOWN, Fault
from tests.servers.scripted import ScriptedServer, Send, Serve

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

# Short limits so a stalled server costs a fraction of a second; total bounds each call.
FAST = Timeouts.every(0.5, total=5.0)
GOOD_SESSION = (Send(b"220 fake.test ESMTP\r\n"), Serve())


def envelope(tag: str) -> Envelope:
    return Envelope(
        "alice@example.test", ["bob@example.test"], b"Subject: " + tag.encode() + b"\r\n\r\nhi\r\n"
    )


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def threads_started_since(before: set[threading.Thread]) -> list[threading.Thread]:
    """Threads this test started that are still alive (given a moment to finish)."""
    deadline = time.monotonic() + 1.0
    while True:
        started = [t for t in threading.enumerate() if t not in before]
        if not started or time.monotonic() > deadline:
            return started
        time.sleep(0.01)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A ScriptedServer; the test fails if a thread or a socket outlives it and the clients.

    Only what the test itself opened counts: a thread or socket of an earlier test that
    finishes closing meanwhile is neither a leak nor a reason to fail.
    """
    with warnings.catch_warnings():
        # An earlier test's unclosed socket collected now is not this test's leak.
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    threads, fds = set(threading.enumerate()), open_fds()
    with ScriptedServer(io_timeout=5.0) as scripted:
        yield scripted
    gc.collect()
    assert threads_started_since(threads) == []
    assert open_fds() - fds == set()


def ids(faults: list[Fault]) -> list[str]:
    return [fault.name for fault in faults]


BEFORE_ANY_TRANSACTION = [f for f in FAULTS if f.raises is not None]
DURING_A_BATCH = [f for f in FAULTS if f.states is not None]


@pytest.mark.parametrize("fault", BEFORE_ANY_TRANSACTION, ids=ids(BEFORE_ANY_TRANSACTION))
def test_blocking_client_raises_the_documented_exception(
    server: ScriptedServer, fault: Fault
) -> None:
    server.play(*fault.script)
    client = SMTP(local_hostname="client.test", timeouts=FAST)
    assert fault.raises is not None
    with pytest.raises(fault.raises):
        code, message = client.connect(server.host, server.port)
        if code != 220:  # as SMTP(host, port) does
            raise SMTPConnectError(code, message)
        client.send_many([envelope("one"), envelope("two")])
    client.close()
    assert client.sock is None


@pytest.mark.parametrize("fault", DURING_A_BATCH, ids=ids(DURING_A_BATCH))
def test_blocking_client_reports_each_message_and_closes(
    server: ScriptedServer, fault: Fault
) -> None:
    server.play(*fault.script)
    with SMTP(server.host, server.port, local_hostname="client.test", timeouts=FAST) as client:
        results = client.send_many([envelope("one"), envelope("two")])
        assert (client.sock is None) is fault.closes  # an unknown state: closed, never reused
    assert tuple(r.state for r in results) == fault.states
    for result in results:
        if result.state is not SENT:
            assert isinstance(result.error, fault.error), result.error
            assert not result.ok


@pytest.mark.parametrize("fault", DURING_A_BATCH, ids=ids(DURING_A_BATCH))
def test_async_client_reports_the_same_states(server: ScriptedServer, fault: Fault) -> None:
    server.play(*fault.script)

    async def send() -> list[MessageState]:
        client = AsyncSMTP(
            server.host, server.port, local_hostname="client.test", timeouts=FAST, start_tls=False
        )
        async with client:
            results = await client.send_many([envelope("one"), envelope("two")])
            assert client.is_connected is not fault.closes
        return [r.state for r in results]

    assert tuple(asyncio.run(send())) == fault.states


@pytest.mark.parametrize("fault", FAULTS, ids=ids(FAULTS))
def test_mailer_recovers_on_a_fresh_connection(server: ScriptedServer, fault: Fault) -> None:
    server.play(*fault.script)
    server.play(*GOOD_SESSION)
    with Mailer(server.host, server.port, security="none", timeouts=FAST) as mailer:
        try:
            first = mailer.send([envelope("one"), envelope("two")])
        except Exception as exc:  # the fault came before any transaction: nothing was sent
            assert fault.raises is not None and isinstance(exc, fault.raises)
            first = None
        second = mailer.send([envelope("three")])
    assert [r.state for r in second] == [SENT]
    if first is not None:
        assert fault.states is not None
        # Never sent twice, never wrongly sent: an unknown fate stays unknown; a message the
        # fault stopped before its transaction went out on the fresh connection.
        expected = tuple(SENT if state is NOT_ATTEMPTED else state for state in fault.states)
        assert tuple(r.state for r in first) == expected
    subjects = [m.split(b"\r\n", 1)[0] for m in server.messages]
    assert len(subjects) == len(set(subjects)) and b"Subject: three" in subjects
    # A faulty connection is never used again; a healthy one after refusals is.
    assert server.connections == (2 if fault.closes else 1)


def test_a_timeout_after_the_dot_is_unknown_and_says_so(server: ScriptedServer) -> None:
    fault = next(f for f in FAULTS if f.name == "stall after the final dot")
    server.play(*fault.script)
    with SMTP(server.host, server.port, local_hostname="client.test", timeouts=FAST) as client:
        first, second = client.send_many([envelope("one"), envelope("two")])
    assert first.state is UNKNOWN and isinstance(first.error, SMTPTimeoutError)
    assert isinstance(first.error, TimeoutError)
    assert second.state is NOT_ATTEMPTED
