"""A token bucket in Redis: one rate for every worker of every host, as providers count it.

The bucket's state (tokens, last update) lives in one Redis hash updated by a Lua
script on Redis's own clock, so hosts with skewed clocks share it fairly. As the
in-process :class:`~smtp_backend.TokenBucket`, a caller that finds it empty reserves
the next token (the count goes negative) and sleeps until it is due.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis  # type: ignore[import-not-found,unused-ignore]

from ..mailer.ratelimit import TokenBucket

__all__ = ["RedisTokenBucket"]

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 60000)
if tokens < 0 then
    return tostring(-tokens / rate)
end
return '0'
"""


class RedisTokenBucket(TokenBucket):
    """``acquire()`` returns when one message may go, counted across all processes.

    ``key`` names the bucket (e.g. the account); buckets with the same key share
    their tokens, whatever their ``rate``: give every worker the same one.
    """

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        rate: float,
        burst: float | None = None,
        *,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        super().__init__(rate, burst, sleep=sleep)
        self.key = key
        self._take = client.register_script(_TAKE)

    def reserve(self) -> float:
        """Take one token in Redis; the seconds until it is due (``acquire`` waits them)."""
        return float(self._take(keys=[self.key], args=[repr(self.rate), repr(self.burst)]))
