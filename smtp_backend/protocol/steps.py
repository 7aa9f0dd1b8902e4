"""What an exchange asks of its driver: the steps, and the two dialogue primitives.

An exchange is a generator that yields steps and receives replies:

* ``Write(data)``: the driver writes ``data`` (a ``str`` is encoded with the session's
  ``command_encoding``) and sends back ``None``;
* ``READ`` (``READ_GREETING``, ``READ_FINAL``): the driver reads one complete reply and
  sends back the :class:`Reply`;
* ``CLOSE``: the driver closes the connection (its state is unknown) and sends back ``None``;
* ``EndOutput(grace)``: the client will write nothing more (after QUIT): unless a reply
  arrives within ``grace`` seconds, the driver ends its side of a plain TCP or Unix stream
  (a FIN) and sends back ``None``; a TLS stream is left as it is (a bare FIN would skip
  its close_notify).

An I/O error is thrown into the generator at the step that failed. The value the
generator returns is the exchange's result. Each step names its RFC 5321 §4.5.3.2
phase, so a driver knows which time limit (:class:`~smtp_backend.timeouts.Timeouts`)
bounds the wait.

A plan (:mod:`.plans`) is the same kind of generator one level up: it yields ``Call``
steps, and the driver calls its own public method and sends back the result.
:class:`StepRun` steps either kind, so a driver's loop only performs steps.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import SMTPProtocolError, SMTPServerDisconnected
from ..results import Reply
from ..timeouts import Phase

T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Write:
    """Write ``data``; ``secret`` data is never shown in debug output or logs."""

    data: str | bytes
    secret: bool = False
    phase: Phase = "command"


@dataclass(frozen=True, slots=True)
class Read:
    """Read one complete reply, waiting no longer than ``phase`` allows."""

    phase: Phase = "command"


class _Close:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class EndOutput:
    """Unless a reply arrives within ``grace`` seconds, end our side of a plain stream."""

    grace: float


READ = Read("command")
READ_GREETING = Read("greeting")
READ_FINAL = Read("data_final")  # the reply after the final dot (or BDAT LAST)
CLOSE = _Close()
Step = Write | Read | _Close | EndOutput
Exchange = Generator[Step, "Reply | None", T]


def read_reply(step: Read = READ) -> Exchange[Reply]:
    reply = yield step
    if reply is None:
        raise RuntimeError("the driver answered READ without a reply")
    return reply


def command(line: str | bytes, *, secret: bool = False) -> Exchange[Reply]:
    """Write one command and read its reply."""
    yield Write(line, secret)
    return (yield from read_reply())


def encode_command(data: str | bytes, encoding: str) -> bytes:
    return data.encode(encoding) if isinstance(data, str) else data


@dataclass(frozen=True, slots=True)
class Call:
    """Call the driver's public method ``method`` through ``self`` and send back its result.

    Through ``self``, as smtplib does: its own tests replace ``ehlo`` or ``sendmail`` on
    the instance and expect ``login`` or ``send_message`` to call the replacement.
    """

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


Plan = Generator[Call, Any, T]


class StepRun(Generic[S, T]):
    """One exchange or plan being run: its next step, and the outcome the driver reports.

    A driver loops: ``next_step()`` (None once finished, with ``result`` set), performs
    the step, then ``succeeded(value)`` or ``failed(error)``. A lost or garbled
    connection escaping the generator closes the connection (``on_lost``) and is raised.
    """

    def __init__(self, steps: Generator[S, Any, T], on_lost: Callable[[], None]) -> None:
        self._steps = steps
        self._on_lost = on_lost
        self._value: Any = None
        self._error: Exception | None = None
        self.result: T

    def next_step(self) -> S | None:
        value, error = self._value, self._error
        self._value = self._error = None
        try:
            return self._steps.throw(error) if error is not None else self._steps.send(value)
        except StopIteration as stop:
            self.result = stop.value
            return None
        except (SMTPServerDisconnected, SMTPProtocolError):
            self._on_lost()
            raise

    def succeeded(self, value: Any) -> None:
        self._value = value

    def failed(self, error: Exception) -> None:
        self._error = error
