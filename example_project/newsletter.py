"""What both example apps send, to whom, and how they report each message's fate."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from smtp_backend import MessageState, SendResult

SUBSCRIBERS_FILE = Path(__file__).with_name("subscribers.json")

WELCOME_SUBJECT = "Welcome aboard"
NEWSLETTER_SUBJECT = "This month's newsletter"


@dataclass(frozen=True)
class Subscriber:
    name: str
    email: str


def load_subscribers(path: str | Path = SUBSCRIBERS_FILE) -> list[Subscriber]:
    """The subscribers in a JSON list of ``{"name": ..., "email": ...}`` objects."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Subscriber(entry["name"], entry["email"]) for entry in entries]


def welcome_text(name: str) -> str:
    return f"Hello {name},\n\nthanks for signing up. The next newsletter is on its way.\n"


def newsletter_text(name: str) -> str:
    return f"Hello {name},\n\nhere is what happened this month.\n"


def result_line(result: SendResult) -> str:
    """One message's outcome, e.g. ``#2 sent ada@readers.example: 250 2.0.0 OK``."""
    reason = f"{result.reply.code} {result.reply.text}" if result.reply else str(result.error or "")
    refused = "".join(
        f" (refused {address}: {reply.code} {reply.text})"
        for address, reply in result.refused.items()
    )
    return f"#{result.index} {result.state.value} {', '.join(result.recipients)}: {reason}{refused}"


def results_summary(results: Sequence[SendResult]) -> str:
    """The batch in one line, e.g. ``5 messages in one batch: 4 sent, 1 refused``."""
    states = Counter(result.state for result in results)
    counts = [f"{states[MessageState.SENT]} sent", f"{states[MessageState.REFUSED]} refused"]
    counts += [
        f"{count} {state.value}"
        for state, count in states.items()
        if state not in (MessageState.SENT, MessageState.REFUSED)
    ]
    return f"{len(results)} messages in one batch: {', '.join(counts)}"
