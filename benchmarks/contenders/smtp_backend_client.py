"""This project's client: ``send_message`` in a loop, and ``send_many`` (pipelined)."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage

from . import Contender, module_missing

TIMEOUT = 60.0
MISSING = module_missing("smtp_backend", "smtp_backend not importable")


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


CONTENDERS = [
    Contender("smtp_backend send_message", send_loop, MISSING),
    Contender("smtp_backend send_many", send_many, MISSING),
]
