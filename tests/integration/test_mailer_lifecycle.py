"""Mailer lifecycle: fork safety, closing at exit, garbage collection, hooks, rate limit."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path

import pytest

from smtp_backend import Envelope, MessageState, SendResult
from smtp_backend.mailer import Mailer, MailItem
from smtp_backend.mailer.ratelimit import TokenBucket
from tests.servers import RecordingSMTPServer

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[2]


def envelope(tag: str) -> Envelope:
    return Envelope(
        "alice@example.test", ["bob@example.test"], f"Subject: {tag}\r\n\r\nhi\r\n".encode()
    )


def connection_of(server: RecordingSMTPServer) -> dict[str, int]:
    """Subject -> the number of the connection that carried it."""
    return {m.content.split(b"\r\n", 1)[0].decode()[9:]: m.connection for m in server.messages}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with the server thread running
def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(
    smtp_server: RecordingSMTPServer,
) -> None:
    mailer = Mailer(smtp_server.host, smtp_server.port, security="none")
    assert mailer.send(envelope("parent-before"))[0].ok
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        code = 1
        try:
            code = 0 if mailer.send(envelope("child"))[0].ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert mailer.send(envelope("parent-after"))[0].ok
    mailer.close()
    assert connection_of(smtp_server) == {"parent-before": 1, "child": 2, "parent-after": 1}
    assert smtp_server.connections == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads running
def test_a_child_forked_while_a_thread_holds_the_rate_limit_can_still_send(
    smtp_server: RecordingSMTPServer,
) -> None:
    bucket = TokenBucket(1000)
    mailer = Mailer(smtp_server.host, smtp_server.port, security="none", rate_limit=bucket)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:  # a thread of the parent, mid-acquire at the fork
        with bucket._lock:
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    holding.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: without a fresh lock, this send would wait forever
        code = 1
        try:
            code = 0 if mailer.send(envelope("child"))[0].ok else 2
        finally:
            os._exit(code)
    release.set()
    thread.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    mailer.close()
    assert "child" in connection_of(smtp_server)


def test_pooled_connections_are_closed_with_quit_at_interpreter_exit(
    smtp_server: RecordingSMTPServer,
) -> None:
    script = textwrap.dedent(
        f"""
        from smtp_backend import Envelope
        from smtp_backend.mailer import Mailer
        mailer = Mailer("127.0.0.1", {smtp_server.port}, security="none")
        envelope = Envelope("a@example.test", ["b@example.test"], b"Subject: exit\\r\\n\\r\\nx\\r\\n")
        assert mailer.send(envelope)[0].ok
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=20)
    assert len(smtp_server.messages) == 1
    assert smtp_server.verbs()[-1] == "QUIT"


def test_an_unused_mailer_can_be_garbage_collected(smtp_server: RecordingSMTPServer) -> None:
    mailer = Mailer(smtp_server.host, smtp_server.port, security="none")
    mailer.send(envelope("gc"))
    reference = weakref.ref(mailer)
    del mailer
    gc.collect()
    assert reference() is None


def test_close_quits_and_the_mailer_reconnects_when_used_again(
    smtp_server: RecordingSMTPServer,
) -> None:
    with Mailer(smtp_server.host, smtp_server.port, security="none") as mailer:
        mailer.send(envelope("one"))
        mailer.close()
        assert smtp_server.verbs()[-1] == "QUIT"
        assert mailer.send(envelope("two"))[0].ok
    assert connection_of(smtp_server) == {"one": 1, "two": 2}


def test_hooks_see_every_item_and_every_result(smtp_server: RecordingSMTPServer) -> None:
    seen: list[MailItem] = []
    results: list[SendResult] = []
    late: list[int] = []
    items = [envelope("a"), Envelope("reject@sender.test", ["b@example.test"], b"x\r\n")]
    with Mailer(
        smtp_server.host,
        smtp_server.port,
        security="none",
        before_send=seen.append,
        after_send=results.append,
    ) as mailer:
        mailer.add_hook(after_send=lambda result: late.append(result.index))
        returned = mailer.send(items)
    assert seen == items
    assert results == returned
    assert [r.state for r in results] == [MessageState.SENT, MessageState.REFUSED]
    assert late == [0, 1]


def test_a_failing_before_send_hook_aborts_the_call_before_anything_is_sent(
    smtp_server: RecordingSMTPServer,
) -> None:
    def veto(item: MailItem) -> None:
        raise RuntimeError("vetoed")

    mailer = Mailer(smtp_server.host, smtp_server.port, security="none", before_send=veto)
    with mailer, pytest.raises(RuntimeError, match="vetoed"):
        mailer.send([envelope("a"), envelope("b")])
    assert smtp_server.connections == 0


def test_a_failing_after_send_hook_is_logged_and_the_results_returned(
    smtp_server: RecordingSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(result: SendResult) -> None:
        raise RuntimeError("hook bug")

    with Mailer(smtp_server.host, smtp_server.port, security="none", after_send=broken) as mailer:
        assert mailer.send(envelope("a"))[0].ok
    assert "after_send hook" in caplog.text and "hook bug" in caplog.text


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_rate_limit_paces_every_message(smtp_server: RecordingSMTPServer) -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, burst=1, clock=clock, sleep=clock.sleep)
    with Mailer(smtp_server.host, smtp_server.port, security="none", rate_limit=bucket) as mailer:
        first = mailer.send([envelope("a"), envelope("b"), envelope("c")])
        second = mailer.send(envelope("d"))
    assert all(r.ok for r in first + second)
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5])
    assert len(smtp_server.messages) == 4


def test_open_connects_now_and_the_next_send_reuses_that_connection(
    smtp_server: RecordingSMTPServer,
) -> None:
    with Mailer(smtp_server.host, smtp_server.port, security="none") as mailer:
        mailer.open()
        assert smtp_server.connections == 1 and smtp_server.verbs() == ["EHLO"]
        assert mailer.send(envelope("after open"))[0].ok
    assert connection_of(smtp_server) == {"after open": 1}


def test_open_raises_when_nothing_listens_and_does_nothing_while_capturing() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = Mailer("127.0.0.1", port, security="none")
    with pytest.raises(ConnectionRefusedError):
        mailer.open()
    with mailer.capture():
        mailer.open()


def test_a_lent_connection_is_the_callers_alone_then_pooled_again(
    smtp_server: RecordingSMTPServer,
) -> None:
    mailer = Mailer(smtp_server.host, smtp_server.port, security="none", pool_size=2)
    with mailer.lend() as smtp:
        smtp.sendmail("alice@example.test", ["bob@example.test"], b"Subject: lent\r\n\r\nhi\r\n")
        mailer.send(envelope("pooled"))  # the pool opens another: the lent one is taken
    mailer.send(envelope("after"))  # the lent one is back in the pool, reused
    mailer.close()

    assert connection_of(smtp_server) == {"lent": 1, "pooled": 2, "after": 1}


def test_a_connection_lent_to_a_block_that_raised_is_closed_not_pooled(
    smtp_server: RecordingSMTPServer,
) -> None:
    mailer = Mailer(smtp_server.host, smtp_server.port, security="none")
    with pytest.raises(RuntimeError), mailer.lend() as smtp:
        smtp.mail("alice@example.test")  # a transaction left half done
        raise RuntimeError("caller failed")
    mailer.send(envelope("next"))
    mailer.close()

    assert smtp.sock is None
    assert connection_of(smtp_server) == {"next": 2}


def test_a_lent_connection_takes_no_place_so_sends_and_lends_never_wait_for_it(
    smtp_server: RecordingSMTPServer,
) -> None:
    mailer = Mailer(smtp_server.host, smtp_server.port, security="none", pool_size=1)
    with mailer.lend() as first, mailer.lend() as second:  # in one thread: no deadlock
        assert first is not second
        [result] = mailer.send(envelope("while lent"))
        assert result.ok
        assert first.noop()[0] == 250 and second.noop()[0] == 250
        assert smtp_server.connections == 3
    assert smtp_server.verbs().count("QUIT") == 2  # no room in the pool for the lent ones
    mailer.send(envelope("after"))  # the pool's own connection, kept
    mailer.close()

    assert smtp_server.connections == 3
    assert connection_of(smtp_server) == {"while lent": 3, "after": 3}
