"""Reading what an MTA delivered into a maildir: per recipient, with a deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

# What Postfix puts above the message it received: virtual(8) adds the first three, and
# cleanup(8) one Received header (folded over several lines).
DELIVERY_HEADERS = (b"return-path", b"x-original-to", b"delivered-to", b"received")


@dataclass(frozen=True)
class DeliveredMessage:
    """One maildir file: the headers the MTA added, and the message as it arrived."""

    added_headers: dict[bytes, bytes]  # lower-case name -> value (unfolded, stripped)
    message: bytes  # everything below the added headers, byte for byte (LF line ends)

    @property
    def recipient(self) -> str:
        return self.added_headers.get(b"delivered-to", b"").decode("utf-8")

    @property
    def return_path(self) -> str:
        return self.added_headers.get(b"return-path", b"").decode("utf-8").strip("<>")


def split_delivery_headers(raw: bytes) -> DeliveredMessage:
    """Separate the leading Return-Path/Delivered-To/Received headers from the message."""
    lines = raw.splitlines(keepends=True)
    added: dict[bytes, bytes] = {}
    index = 0
    while index < len(lines):
        name, colon, value = lines[index].partition(b":")
        if not colon or name.lower() not in DELIVERY_HEADERS or name.lower() in added:
            break
        index += 1
        while index < len(lines) and lines[index][:1] in (b" ", b"\t"):
            value += lines[index]
            index += 1
        added[name.lower()] = b" ".join(value.split())
    return DeliveredMessage(added, b"".join(lines[index:]))


class Maildir:
    """A maildir that several recipients' mail lands in (told apart by Delivered-To)."""

    def __init__(self, path: Path):
        self.path = path

    def messages(self) -> list[DeliveredMessage]:
        """Every delivered message, oldest first (a maildir's new/ and cur/)."""
        files = [
            entry
            for folder in ("new", "cur")
            if (self.path / folder).is_dir()
            for entry in (self.path / folder).iterdir()
        ]
        files.sort(key=lambda entry: (entry.stat().st_mtime_ns, entry.name))
        return [split_delivery_headers(entry.read_bytes()) for entry in files]

    def for_recipient(self, address: str) -> list[DeliveredMessage]:
        wanted = address.lower()
        return [m for m in self.messages() if m.recipient.lower() == wanted]

    def wait_for(
        self, address: str, count: int = 1, timeout: float = 20.0
    ) -> list[DeliveredMessage]:
        """The messages delivered to ``address`` once there are ``count`` (or fail at timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.for_recipient(address)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(found)} of {count} message(s) for {address} arrived in {timeout}s"
                )
            time.sleep(0.05)
