"""Messages and results as JSON: what goes through the broker and comes back (no pickle).

A message travels as its exact bytes (base64) plus its envelope and an idempotency
key; a result comes back as a plain dict with the outcome, the server's codes and
the error's type and text. Nothing here imports celery or redis.
"""

from __future__ import annotations

import base64
import email.message
import uuid
from collections.abc import Mapping
from typing import Any

from ..dsn import DSN, RecipientDSN
from ..protocol.message import message_to_envelope
from ..results import Envelope, MessageState, Reply, SendResult

__all__ = [
    "PAYLOAD_VERSION",
    "envelope_from_payload",
    "message_payload",
    "result_to_dict",
    "unknown_result",
]

PAYLOAD_VERSION = 1
Payload = dict[str, Any]
ResultDict = dict[str, Any]


def _dsn_to_dict(dsn: DSN) -> dict[str, Any]:
    return {
        "notify": dsn.notify,
        "ret": dsn.ret,
        "envid": dsn.envid,
        "orcpt": dsn.orcpt,
        "recipients": {
            address: {"notify": each.notify, "orcpt": each.orcpt}
            for address, each in dsn.recipients.items()
        },
        "required": dsn.required,
    }


def _notify(value: Any) -> str | tuple[str, ...] | None:
    return tuple(value) if isinstance(value, list) else value


def _dsn_from_dict(data: Mapping[str, Any]) -> DSN:
    return DSN(
        notify=_notify(data.get("notify")),
        ret=data.get("ret"),
        envid=data.get("envid"),
        orcpt=bool(data.get("orcpt")),
        recipients={
            address: RecipientDSN(_notify(each.get("notify")), each.get("orcpt"))
            for address, each in (data.get("recipients") or {}).items()
        },
        required=bool(data.get("required", True)),
    )


def message_payload(item: Envelope | email.message.Message, key: str | None = None) -> Payload:
    """The JSON payload of one message; ``key`` (default: a new UUID) identifies it for life.

    An ``email.message.Message`` is flattened now, as ``Mailer.send`` would (envelope
    from its headers, Bcc removed), so the worker sends exactly these bytes.
    Raises ``ValueError``/``TypeError`` for a message whose envelope cannot be taken.
    """
    if isinstance(item, email.message.Message):
        item = message_to_envelope(item, server_smtputf8=True)
    elif not isinstance(item, Envelope):
        raise TypeError(f"expected an Envelope or an email.message.Message, not {type(item)!r}")
    return {
        "v": PAYLOAD_VERSION,
        "key": key or uuid.uuid4().hex,
        "sender": item.sender,
        "recipients": list(item.recipients),
        "data": base64.b64encode(item.data).decode("ascii"),
        "mail_options": list(item.mail_options),
        "rcpt_options": list(item.rcpt_options),
        "require_tls": item.require_tls,
        "dsn": None if item.dsn is None else _dsn_to_dict(item.dsn),
    }


def envelope_from_payload(payload: Mapping[str, Any]) -> Envelope:
    """The :class:`Envelope` a payload describes; ``ValueError`` for an unknown version."""
    if payload.get("v") != PAYLOAD_VERSION:
        raise ValueError(f"unknown message payload version {payload.get('v')!r}")
    dsn = payload.get("dsn")
    return Envelope(
        payload["sender"],
        tuple(payload["recipients"]),
        base64.b64decode(payload["data"], validate=True),
        tuple(payload.get("mail_options", ())),
        tuple(payload.get("rcpt_options", ())),
        dsn=None if dsn is None else _dsn_from_dict(dsn),
        require_tls=bool(payload.get("require_tls", False)),
    )


def _reply_to_dict(reply: Reply | None) -> dict[str, Any] | None:
    if reply is None:
        return None
    return {
        "code": reply.code,
        "text": reply.text,
        "enhanced": ".".join(map(str, reply.enhanced)) if reply.enhanced else None,
    }


def result_to_dict(result: SendResult, key: str) -> ResultDict:
    """A JSON-serialisable record of one ``SendResult`` (``key``: the message's payload key)."""
    classification = result.classification
    error = result.error
    return {
        "key": key,
        "index": result.index,
        "state": result.state.value,
        "sender": result.sender,
        "recipients": list(result.recipients),
        "accepted": list(result.accepted),
        "refused": {address: _reply_to_dict(reply) for address, reply in result.refused.items()},
        "reply": _reply_to_dict(result.reply),
        "error": None if error is None else {"type": type(error).__name__, "message": str(error)},
        "classification": None if classification is None else classification.value,
        "retryable": result.retryable,
        "size": result.size,
        "message_id": result.message_id,
    }


def unknown_result(index: int, payload: Mapping[str, Any], why: str) -> ResultDict:
    """The record of a message another delivery was sending when it stopped: never resent."""
    result = SendResult(
        index,
        payload["sender"],
        tuple(payload["recipients"]),
        MessageState.UNKNOWN,
        error=DeliveryInterrupted(why),
    )
    return result_to_dict(result, payload["key"])


class DeliveryInterrupted(Exception):
    """A previous delivery of the task stopped while this message was being sent."""
