"""The idempotency ledger: one Redis key per message, so a redelivered task never resends.

Each message key moves through these records (JSON strings, ``EX ttl``)::

    (absent) --claim--> inflight {owner, at} --record--> done {result}
                                             \\-record--> retry {attempt, result}
    retry {attempt: n} --claim by attempt >= n--> inflight ...

A claim is atomic (one Lua script for the whole step), so of two deliveries of the
same message exactly one sends it. A delivery that finds another's ``inflight``
record never sends: it waits for that one to finish, or, when the other is gone
(its process is dead, or its lease has passed), reports the message UNKNOWN.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis  # type: ignore[import-not-found,unused-ignore]

__all__ = ["Claim", "Ledger", "Owner"]

DEFAULT_PREFIX = "smtp_backend:message:"
DEFAULT_TTL = 7 * 24 * 3600  # a record must outlive every redelivery and retry of its task

_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local attempt = tonumber(ARGV[2])
local found = {}
for i, key in ipairs(KEYS) do
    local value = redis.call('GET', key)
    local claim = not value
    if value then
        local record = cjson.decode(value)
        claim = record.s == 'retry' and tonumber(record.attempt) <= attempt
    end
    if claim then
        local owner = cjson.decode(ARGV[1])
        redis.call('SET', key, cjson.encode({s = 'inflight', owner = owner, at = now}),
                   'EX', ARGV[3])
        found[i] = ''
    else
        found[i] = value
    end
end
return {tostring(now), found}
"""


@dataclass(frozen=True)
class Owner:
    """Who holds an ``inflight`` record: one execution of a task in one process."""

    id: str
    host: str
    pid: int

    @classmethod
    def this_process(cls, execution_id: str) -> Owner:
        return cls(execution_id, socket.gethostname(), os.getpid())

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "host": self.host, "pid": self.pid}

    @property
    def is_gone(self) -> bool:
        """True when this owner's process is known to be dead (same host, no such pid)."""
        if self.host != socket.gethostname() or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, someone else's
            return False
        return False


@dataclass(frozen=True)
class Claim:
    """What a claim found for one key: ``status`` is claimed, done, retry or inflight."""

    key: str
    status: str
    record: dict[str, Any] | None = None
    age: float = 0.0  # seconds since an inflight record was made (Redis clock)

    @property
    def holder(self) -> Owner | None:
        if self.status != "inflight" or self.record is None:
            return None
        owner = self.record.get("owner") or {}
        return Owner(str(owner.get("id")), str(owner.get("host")), int(owner.get("pid", 0)))


class Ledger:
    """Claims and records message keys in Redis (one round trip per call)."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX, ttl: int = DEFAULT_TTL
    ) -> None:
        if ttl < 1:
            raise ValueError(f"ledger ttl must be at least 1 second, not {ttl!r}")
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self._claim = client.register_script(_CLAIM)

    def claim(self, keys: Sequence[str], owner: Owner, attempt: int) -> list[Claim]:
        """Claim every free key for ``owner``; report what holds the others."""
        if not keys:
            return []
        reply = self._claim(
            keys=[self.prefix + key for key in keys],
            args=[json.dumps(owner.as_dict()), attempt, self.ttl],
        )
        now = float(reply[0])
        claims = []
        for key, raw in zip(keys, reply[1], strict=True):
            if not raw:
                claims.append(Claim(key, "claimed"))
                continue
            record = json.loads(raw)
            age = now - float(record.get("at", now))
            claims.append(Claim(key, str(record.get("s")), record, max(0.0, age)))
        return claims

    def record(self, records: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Store each key's final (``done``) or pending (``retry``) record."""
        if not records:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, record in records:
            pipe.set(self.prefix + key, json.dumps(record), ex=self.ttl)
        pipe.execute()

    def look(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        """The records of ``keys`` as they are now (None where absent)."""
        if not keys:
            return []
        values = self.client.mget([self.prefix + key for key in keys])
        return [None if value is None else json.loads(value) for value in values]
