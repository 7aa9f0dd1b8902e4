"""The batch engine: many transactions over one connection, pipelined (RFC 2920, RFC 3030).

A driver loops: write ``data_to_send()``; when it returns nothing, read and feed
each reply to ``receive_reply()``; take finished results with ``pop_results()``;
stop when ``finished``. On a lost connection it calls ``connection_lost()``.

Without PIPELINING one command is outstanding at a time and the plan adapts to
each reply (smtplib's order, RSET after a failure). With PIPELINING, MAIL, every
RCPT and DATA go in one write, and the content, its dot and the next message's
commands go in the next. With CHUNKING, ``BDAT n LAST`` carries the content, so up
to ``window`` whole transactions are in flight with no round trip each; each one
that follows a transaction still in flight starts with RSET, so a transaction the
server still holds after a failure (RFC 3030 §3) can never absorb the next one.
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import (
    SMTPDataError,
    SMTPProtocolError,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from ..results import MessageState, Reply, SendResult
from .data import DATA_TERMINATOR
from .transaction import PreparedTransaction

DEFAULT_WINDOW = 32
_RSET = b"RSET\r\n"
_DATA = b"DATA\r\n"


@dataclass(frozen=True, slots=True)
class UnpreparedMessage:
    """Stands in a batch for a message that could not be prepared; it becomes a result."""

    error: BaseException
    sender: str = ""
    recipients: tuple[str, ...] = ()
    message_id: str | None = None


def not_attempted_result(
    index: int, item: PreparedTransaction | UnpreparedMessage, error: BaseException
) -> SendResult:
    """The result of an item never sent: its own preparation error, else ``error``."""
    if isinstance(item, UnpreparedMessage):
        return SendResult(
            index,
            item.sender,
            item.recipients,
            MessageState.NOT_ATTEMPTED,
            error=item.error,
            message_id=item.message_id,
        )
    return SendResult(
        index,
        item.sender,
        item.recipients,
        MessageState.NOT_ATTEMPTED,
        error=error,
        size=item.size,
        message_id=item.message_id,
    )


class _Expect(enum.Enum):
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    FINAL = "FINAL"  # the reply (LMTP: one per accepted recipient) after the dot or BDAT LAST
    RSET = "RSET"


@dataclass(slots=True)
class _Attempt:
    txn: PreparedTransaction
    index: int
    mail: Reply | None = None
    rcpts: list[Reply] = field(default_factory=list)
    data: Reply | None = None
    finals: list[Reply] = field(default_factory=list)
    rcpts_written: int = 0
    mail_written: bool = False
    data_written: bool = False  # DATA, or BDAT with its chunk
    content_written: bool = False  # the dot or BDAT LAST handed to the driver: fate may be unknown
    outstanding: int = 0
    aborted: bool = False  # no more commands will be written for it

    @property
    def mail_ok(self) -> bool:
        return self.mail is not None and self.mail.code == 250

    def accepted_indices(self) -> list[int]:
        return [i for i, r in enumerate(self.rcpts) if r.code in (250, 251)]


def _result(
    attempt: _Attempt,
    state: MessageState,
    accepted: tuple[str, ...] = (),
    refused: dict[str, Reply] | None = None,
    reply: Reply | None = None,
    error: BaseException | None = None,
) -> SendResult:
    txn = attempt.txn
    return SendResult(
        attempt.index,
        txn.sender,
        txn.recipients,
        state,
        accepted=accepted,
        refused=refused or {},
        reply=reply,
        error=error,
        size=txn.size,
        message_id=txn.message_id,
    )


class BatchEngine:
    """Plans, frames and tracks every transaction of one batch on one connection."""

    def __init__(
        self,
        items: Iterator[PreparedTransaction | UnpreparedMessage],
        *,
        pipelining: bool,
        window: int = DEFAULT_WINDOW,
        lmtp: bool = False,
        first_index: int = 0,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._items = items
        self._pipelining = pipelining
        self._window = window  # without pipelining each reply is awaited: one transaction at a time
        self._lmtp = lmtp
        self._next_index = first_index
        self._expected: deque[tuple[_Expect, _Attempt | None]] = deque()
        self._in_flight: deque[_Attempt] = deque()  # written, not concluded, in order
        self._current: _Attempt | None = None  # the attempt whose commands are being written
        self._results: dict[int, SendResult] = {}
        self._next_result = first_index
        self._exhausted = False
        self._ahead: PreparedTransaction | UnpreparedMessage | None = None  # taken early
        self._rset_pending = False
        # A 421, or a reply that leaves the server's state unknown: no more on this connection.
        self.closing_reply: Reply | None = None

    # -- state ---------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True when every item has a result and nothing is outstanding."""
        return (
            self._exhausted
            and self._current is None
            and not self._rset_pending
            and not self._in_flight
            and not self._expected
        )

    @property
    def awaiting_replies(self) -> int:
        return len(self._expected)

    @property
    def awaiting_final(self) -> bool:
        """True when the next reply is the one after the content (the dot or BDAT LAST)."""
        return bool(self._expected) and self._expected[0][0] is _Expect.FINAL

    def pop_results(self) -> list[SendResult]:
        """Results concluded so far, in input order, each returned once."""
        out: list[SendResult] = []
        while self._next_result in self._results:
            out.append(self._results.pop(self._next_result))
            self._next_result += 1
        return out

    # -- writing -------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The next bytes to write, in one write; empty when replies must come first."""
        if self.closing_reply is not None:
            return b""
        parts: list[bytes] = []
        while True:
            if not self._pipelining and self._expected:
                break
            chunk = self._next_command()
            if not chunk:
                break
            parts.append(chunk)
        return b"".join(parts)

    def _expect(self, kind: _Expect, attempt: _Attempt | None, count: int = 1) -> None:
        for _ in range(count):
            self._expected.append((kind, attempt))
        if attempt is not None:
            attempt.outstanding += count

    def _next_command(self) -> bytes:
        attempt = self._current
        if attempt is None:
            if self._rset_pending:
                self._rset_pending = False
                self._expect(_Expect.RSET, None)
                return _RSET
            attempt = self._start_next()
            if attempt is None:
                return b""
        txn = attempt.txn
        if not attempt.mail_written:
            attempt.mail_written = True
            if txn.use_bdat and len(self._in_flight) > 1:
                self._expect(_Expect.RSET, None)  # the one before may yet fail and linger
                self._expect(_Expect.MAIL, attempt)
                return _RSET + txn.mail
            self._expect(_Expect.MAIL, attempt)
            return txn.mail
        if not attempt.data_written:
            # Lock-step (or replies already in): stop early, as smtplib does.
            if attempt.mail is not None and attempt.mail.code != 250:
                return self._abort(attempt)
            if attempt.rcpts_written < len(txn.rcpts):
                line = txn.rcpts[attempt.rcpts_written]
                attempt.rcpts_written += 1
                self._expect(_Expect.RCPT, attempt)
                return line
            if len(attempt.rcpts) == len(txn.rcpts) and not attempt.accepted_indices():
                return self._abort(attempt)
            attempt.data_written = True
            if txn.use_bdat:
                return self._write_content(attempt, txn.payload)
            self._expect(_Expect.DATA, attempt)
            return _DATA
        # DATA mode: the content waits for the 354, which follows every earlier reply.
        if attempt.data is None:
            return b""
        if attempt.data.code != 354:
            return self._abort(attempt)
        if not attempt.mail_ok or not attempt.accepted_indices():
            # 354 although nothing can be delivered: end the data phase with the dot alone.
            return self._write_content(attempt, DATA_TERMINATOR)
        return self._write_content(attempt, txn.payload)

    def _write_content(self, attempt: _Attempt, payload: bytes) -> bytes:
        attempt.content_written = True
        # LMTP (never with BDAT: the accepted recipients must be known) replies per recipient.
        finals = max(1, len(attempt.accepted_indices())) if self._lmtp else 1
        self._expect(_Expect.FINAL, attempt, finals)
        self._current = None
        return payload

    def _abort(self, attempt: _Attempt) -> bytes:
        """No more commands for this attempt; it concludes when its replies are in."""
        attempt.aborted = True
        self._current = None
        if attempt.mail_ok or not self._pipelining:
            self._rset_pending = True  # smtplib resets after a refused MAIL too
        self._maybe_conclude(attempt)
        return self._next_command()

    def _start_next(self) -> _Attempt | None:
        if len(self._in_flight) >= self._window:
            return None
        attempt = self._pull()
        if attempt is None:
            return None
        self._in_flight.append(attempt)
        self._current = attempt
        return attempt

    def _pull(self) -> _Attempt | None:
        while not self._exhausted:
            try:
                item = self._take()
            except StopIteration:
                self._exhausted = True
                return None
            index = self._next_index
            self._next_index += 1
            if isinstance(item, UnpreparedMessage) or not item.rcpts:
                self._results[index] = not_attempted_result(index, item, SMTPRecipientsRefused({}))
                continue
            return _Attempt(item, index)
        return None

    def take_ahead(self) -> None:
        """Take the next item now (preparing it, when items are prepared lazily), so that
        a driver can do that work while the server handles what was just written."""
        if self._ahead is None and not self._exhausted and self.closing_reply is None:
            try:
                self._ahead = next(self._items)
            except StopIteration:
                self._exhausted = True

    def _take(self) -> PreparedTransaction | UnpreparedMessage:
        item, self._ahead = self._ahead, None
        return next(self._items) if item is None else item

    # -- reading -------------------------------------------------------------

    def receive_reply(self, reply: Reply) -> None:
        """Account for the next reply, in the order the commands were written."""
        if reply.code < 100 or not self._expected:
            what = b"unparsable reply: " if reply.code < 100 else b"unexpected reply: "
            self._close_out(SMTPProtocolError(reply.code, what + reply.message))
            return
        kind, attempt = self._expected.popleft()
        ending: BaseException | None = None
        if reply.code == 421:
            self.closing_reply = reply
            ending = SMTPServerDisconnected("the server is closing the connection")
        elif kind is _Expect.DATA and reply.code != 354 and reply.code < 400:
            # Neither "go ahead" nor a refusal: the server may be reading content or not.
            self.closing_reply = reply
            ending = SMTPProtocolError(reply.code, b"unexpected reply to DATA: " + reply.message)
        if attempt is None:  # RSET
            if ending is not None:
                self._close_out(ending)
            return
        attempt.outstanding -= 1
        if kind is _Expect.MAIL:
            attempt.mail = reply
        elif kind is _Expect.RCPT:
            attempt.rcpts.append(reply)
        elif kind is _Expect.DATA:
            attempt.data = reply
        else:
            attempt.finals.append(reply)
        if ending is not None:
            # This transaction is refused with the reply; nothing after it will be answered.
            self._in_flight.remove(attempt)
            self._results[attempt.index] = self._result_of(attempt)
            self._close_out(ending)
            return
        self._maybe_conclude(attempt)

    def _maybe_conclude(self, attempt: _Attempt) -> None:
        if attempt.outstanding or not (attempt.aborted or attempt.content_written):
            return
        self._in_flight.remove(attempt)
        result = self._result_of(attempt)
        if attempt.txn.use_bdat and attempt.mail_ok and result.state is not MessageState.SENT:
            self._rset_pending = True  # RFC 3030: the server may still hold it
        self._results[attempt.index] = result

    def _result_of(self, attempt: _Attempt) -> SendResult:
        txn = attempt.txn
        mail = attempt.mail
        assert mail is not None
        if mail.code != 250:
            refusal = SMTPSenderRefused(mail.code, mail.message, txn.sender)
            return _result(attempt, MessageState.REFUSED, reply=mail, error=refusal)
        replied = list(zip(txn.recipients, attempt.rcpts, strict=False))
        refused = {r: reply for r, reply in replied if reply.code not in (250, 251)}
        accepted = [r for r, reply in replied if reply.code in (250, 251)]
        if not accepted or any(reply.code == 421 for reply in attempt.rcpts):
            everyone = SMTPRecipientsRefused({r: reply.as_tuple() for r, reply in refused.items()})
            return _result(attempt, MessageState.REFUSED, (), refused, attempt.rcpts[-1], everyone)
        if not attempt.finals:
            # No content went (DATA not answered 354): refused, whatever the code, as smtplib.
            data = attempt.data
            assert data is not None, "concluded before DATA was answered"
            error = SMTPDataError(data.code, data.message)
            return _result(attempt, MessageState.REFUSED, (), refused, data, error)
        final = attempt.finals[-1]
        if self._lmtp:
            # LMTP: one reply per accepted recipient after the data (RFC 2033 §4.2).
            answered = list(zip(accepted, attempt.finals, strict=False))
            unanswered = accepted[len(answered) :]
            for recipient, reply in answered:
                if reply.code != 250:
                    refused[recipient] = reply
            accepted = [r for r, reply in answered if reply.code == 250]
            if unanswered:  # the server closed first (a 421): delivered to them or not?
                gone = SMTPServerDisconnected(
                    f"the server closed before its reply for {len(unanswered)} recipient(s)"
                    " after the data: it may have delivered to them"
                )
                return _result(attempt, MessageState.UNKNOWN, tuple(accepted), refused, final, gone)
            # every recipient answered: the last 250 stands for a delivery, else the last no
            final = [r for r in attempt.finals if (r.code == 250) == bool(accepted)][-1]
        if final.code != 250 or not accepted:
            error = SMTPDataError(final.code, final.message)
            return _result(attempt, MessageState.REFUSED, (), refused, final, error)
        return _result(attempt, MessageState.SENT, tuple(accepted), refused, final)

    # -- ending --------------------------------------------------------------

    def connection_lost(self, error: BaseException) -> None:
        """The connection is gone: every open message ends unknown or not attempted."""
        self._close_out(error)

    def _close_out(self, error: BaseException) -> None:
        self._expected.clear()
        for attempt in self._in_flight:  # a concluded attempt has already left it
            state = MessageState.UNKNOWN if attempt.content_written else MessageState.NOT_ATTEMPTED
            self._results[attempt.index] = _result(attempt, state, error=error)
        self._in_flight.clear()
        self._current = None
        self._rset_pending = False  # nothing more is written on a connection that is gone
        if self.closing_reply is None:
            self.closing_reply = Reply(421, b"connection lost")
        ahead, self._ahead = self._ahead, None  # an item taken early was never started
        for item in self._items if ahead is None else itertools.chain((ahead,), self._items):
            self._results[self._next_index] = not_attempted_result(self._next_index, item, error)
            self._next_index += 1
        self._exhausted = True


__all__ = ["DEFAULT_WINDOW", "BatchEngine", "UnpreparedMessage", "not_attempted_result"]
