"""Server-Sent Events for ``GET /api/events``: each open stream gets every store change."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

from .store import StoredMessage

#: A stream that saw nothing for this long sends a comment, so a dead client is noticed.
KEEPALIVE_SECONDS = 15.0


class EventHub:
    """Fans store events out to the open streams; ``close()`` ends them all."""

    def __init__(self) -> None:
        self._streams: set[queue.SimpleQueue[bytes | None]] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> queue.SimpleQueue[bytes | None]:
        stream: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        with self._lock:
            self._streams.add(stream)
        return stream

    def unsubscribe(self, stream: queue.SimpleQueue[bytes | None]) -> None:
        with self._lock:
            self._streams.discard(stream)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        frame = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
        with self._lock:
            for stream in self._streams:
                stream.put(frame)

    def store_changed(self, event: str, message: StoredMessage) -> None:
        """A ``MessageStore`` listener: ``created`` carries the summary, ``deleted`` the id."""
        from .api import summary

        self.publish(event, summary(message) if event == "created" else {"id": message.id})

    def close(self) -> None:
        with self._lock:
            for stream in self._streams:
                stream.put(None)
            self._streams.clear()
