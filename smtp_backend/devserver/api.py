"""The dev server's JSON API: what a message looks like as JSON, search, and release.

Documented in the README ("Dev server API"); the web inbox page uses nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from ..results import Reply
from .store import StoredMessage


def summary(message: StoredMessage) -> dict[str, Any]:
    """A message in the list: envelope, the headers a list shows, size, links."""
    base = f"/api/messages/{message.id}"
    return {
        "id": message.id,
        "sender": message.sender,
        "recipients": list(message.recipients),
        "from": message.from_,
        "to": message.to,
        "cc": message.cc,
        "subject": message.subject,
        "received_at": message.received_at.isoformat(),
        "size": message.size,
        "attachments": len(message.attachments),
        "tls": message.tls,
        "url": base,
        "raw_url": f"{base}/raw",
    }


def detail(message: StoredMessage) -> dict[str, Any]:
    """One message in full: every header in order, the bodies, the attachment list."""
    base = f"/api/messages/{message.id}"
    attachments = [
        {
            "filename": name,
            "content_type": content_type,
            "size": len(content),
            "url": f"{base}/attachments/{number}",
        }
        for number, (name, content_type, content) in enumerate(message.attachments)
    ]
    return {
        **summary(message),
        "peer": message.peer,
        "headers": [[name, value] for name, value in message.headers],
        "text": message.text,
        "html": message.html,
        "html_url": f"{base}/html" if message.html is not None else None,
        "attachments": attachments,
    }


def matches(message: StoredMessage, query: str) -> bool:
    """True when every word of ``query`` is in the sender, recipients, subject or text."""
    haystack = " ".join(
        [
            message.sender,
            *message.recipients,
            message.from_,
            message.to,
            message.cc,
            message.subject,
            message.text or "",
        ]
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


def listing(messages: list[StoredMessage], query: str) -> dict[str, Any]:
    """``GET /api/messages``: newest first, narrowed by ``query``; ``total`` counts all."""
    found = [m for m in reversed(messages) if matches(m, query)]
    return {"total": len(messages), "count": len(found), "messages": [summary(m) for m in found]}


class BadRequest(ValueError):
    """The request's JSON is not what the endpoint takes (HTTP 400)."""


def release_request(body: bytes) -> tuple[str, list[str]]:
    """``{"url": "smtp://...", "to": ["..."]}`` -> (url, recipients), or ``BadRequest``."""
    try:
        request = json.loads(body or b"null")
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest('expected a JSON object: {"url": "smtp://host:port", "to": [...]}')
    url, to = request.get("url"), request.get("to")
    if not isinstance(url, str) or not url:
        raise BadRequest('"url" must be a mailer URL such as "smtp://127.0.0.1:25"')
    if not isinstance(to, list) or not to or not all(isinstance(a, str) and a for a in to):
        raise BadRequest('"to" must be a non-empty list of addresses')
    return url, to


def release(message: StoredMessage, url: str, to: list[str]) -> dict[str, Any]:
    """Relay the caught message, as received, to ``to`` through the server at ``url``.

    Raises ``ValueError`` for a URL or address the Mailer refuses and ``OSError`` when
    the server cannot be reached (``SMTPException`` is one).
    """
    from .. import Envelope, Mailer

    with Mailer.from_url(url) as mailer:
        (result,) = mailer.send(Envelope(message.sender, to, message.data))
    return {
        "state": result.state.value,
        "accepted": list(result.accepted),
        "refused": {address: _reply(reply) for address, reply in result.refused.items()},
        "reply": None if result.reply is None else _reply(result.reply),
        "error": None if result.error is None else str(result.error),
    }


def _reply(reply: Reply) -> str:
    return f"{reply.code} {reply.text}"
