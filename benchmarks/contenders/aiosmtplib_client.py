"""aiosmtplib: ``send_message`` awaited in a loop on one connection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from email.message import EmailMessage

from . import Contender, module_missing

TIMEOUT = 60.0


async def _send(messages: Iterable[EmailMessage], host: str, port: int) -> int:
    import aiosmtplib

    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        local_hostname="localhost",
        use_tls=False,
        start_tls=False,
        timeout=TIMEOUT,
    )
    sent = 0
    async with client:
        for message in messages:
            await client.send_message(message)  # raises unless a recipient was accepted
            sent += 1
    return sent


def send(messages: Iterable[EmailMessage], host: str, port: int) -> int:
    return asyncio.run(_send(messages, host, port))


CONTENDERS = [
    Contender("aiosmtplib", send, module_missing("aiosmtplib", "aiosmtplib not installed"))
]
