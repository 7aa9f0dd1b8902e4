"""This project's client: ``send_message`` in a loop, ``send_many`` (pipelined), and a
``Mailer`` of one connection (``pool_size=1``, the whole cell on that connection)."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage

from . import Contender, module_missing

TIMEOUT = 60.0
MISSING = module_missing("smtp_backend", "smtp_backend not importable")
SEND_MANY = "smtp_backend send_many"
MAILER = "smtp_backend Mailer pool_size=1"
ONE_CONNECTION = 10**9  # more messages than any cell sends


def send_loop(messages: Iterable[EmailMessage], host: str, port: int) -> int:
    import smtp_backend

    sent = 0
    with smtp_backend.SMTP(host, port, local_hostname="localhost", timeout=TIMEOUT) as client:
        for message in messages:
            client.send_message(message)  # raises unless every recipient was accepted
            sent += 1
    return sent


def send_many(messages: Iterable[EmailMessage], host: str, port: int) -> int:
    import smtp_backend

    with smtp_backend.SMTP(host, port, local_hostname="localhost", timeout=TIMEOUT) as client:
        results = client.send_many(messages)
    return sum(1 for result in results if result.ok)


def send_mailer(messages: Iterable[EmailMessage], host: str, port: int) -> int:
    import smtp_backend

    with smtp_backend.Mailer(
        host,
        port,
        security="none",
        pool_size=1,
        local_hostname="localhost",
        timeout=TIMEOUT,
        # one connection per cell, as every contender (by default a Mailer reconnects
        # every 100 messages: RESULTS.md gives that cost separately)
        max_messages_per_connection=ONE_CONNECTION,
    ) as mailer:
        results = mailer.send(messages)
    return sum(1 for result in results if result.ok)


CONTENDERS = [
    Contender("smtp_backend send_message", send_loop, MISSING),
    Contender(SEND_MANY, send_many, MISSING),
    Contender(MAILER, send_mailer, MISSING),
]
