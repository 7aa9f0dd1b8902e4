"""The baseline: the standard library's smtplib, ``send_message`` in a loop."""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from email.message import EmailMessage

from . import Contender

TIMEOUT = 60.0


def send(messages: Iterable[EmailMessage], host: str, port: int) -> int:
    sent = 0
    with smtplib.SMTP(host, port, local_hostname="localhost", timeout=TIMEOUT) as client:
        for message in messages:
            client.send_message(message)  # raises unless every recipient was accepted
            sent += 1
    return sent


CONTENDERS = [Contender("smtplib", send)]
