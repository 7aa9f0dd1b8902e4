"""The benchmark's messages: N distinct ~2 KB plain-text emails, one recipient each."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate

SENDER = "bench-sender@example.com"
SUBJECT = "Benchmark message {index}"
# ~1.9 KB of wrapped ASCII text: with the headers each message is about 2 KB on the wire
BODY = "\n".join(
    f"Line {line:02d} of the benchmark body: the quick brown fox jumps over the lazy dog."
    for line in range(23)
)


def recipient(index: int) -> str:
    return f"rcpt{index}@example.net"


def build_email(index: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = recipient(index)
    message["Subject"] = SUBJECT.format(index=index)
    message["Date"] = formatdate(1_700_000_000, localtime=False)
    # a fixed domain: make_msgid() would call socket.getfqdn() for every message
    message["Message-ID"] = f"<bench.{index}@example.com>"
    message.set_content(BODY)
    return message


def build_emails(count: int) -> list[EmailMessage]:
    """The same list for every contender, built before any timing starts."""
    return [build_email(index) for index in range(count)]


def wire_bytes(index: int) -> bytes:
    """Message ``index`` serialised as smtplib would send it."""
    message = build_email(index)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def envelope_fields(count: int) -> Iterator[tuple[str, list[str], bytes]]:
    """(sender, recipients, data) for ``count`` distinct messages, made one at a time."""
    template = wire_bytes(0)
    marker = b"<bench.0@example.com>"
    for index in range(count):
        data = template.replace(marker, b"<bench.%d@example.com>" % index)
        yield SENDER, [recipient(index)], data
