"""The pool's rules for a connection opened ahead (``OpenAhead``): it takes the place of a
lent connection that retires after its share, and is kept only by the pool it was
opened for."""

from __future__ import annotations

from smtp_backend.mailer.pooling import PoolRules, Return


def rules(size: int = 1) -> PoolRules[str]:
    return PoolRules(size=size, max_messages=2, idle_timeout=60.0)


def test_a_successor_passes_size_until_the_retiring_connection_is_given_back() -> None:
    pool = rules(size=1)
    assert pool.checkout(0.0).open_new
    lent = pool.opened("first", 0.0)
    generation = pool.reserve_successor()
    assert pool.open == 2  # one over size, for a moment
    waiting = pool.checkout(0.5)
    assert waiting.connection is None and not waiting.open_new  # no third meanwhile
    assert pool.opened_ahead("second", generation, 1.0)
    assert [connection.smtp for connection in pool.idle] == ["second"]
    lent.messages = 2  # carried its max_messages: retired when given back
    assert pool.check_in(lent, reusable=True, still_open=True, now=2.0) is Return.QUIT
    assert pool.open == 1
    successor = pool.checkout(2.0).connection
    assert successor is not None and successor.smtp == "second"


def test_a_successor_landing_after_the_pool_was_cleared_is_not_kept() -> None:
    pool = rules()
    generation = pool.reserve_successor()
    pool.clear()  # close() while it was being opened
    assert not pool.opened_ahead("late", generation, 1.0)
    assert pool.idle == [] and pool.open == 0


def test_a_successor_that_could_not_be_opened_frees_its_place() -> None:
    pool = rules()
    pool.reserve_successor()
    pool.forget()  # what the face does when opening failed
    assert pool.open == 0
    assert pool.checkout(0.0).open_new


def test_at_most_one_successor_passes_size() -> None:
    pool = rules(size=2)
    for _ in range(2):
        assert pool.checkout(0.0).open_new
    assert pool.reserve_successor() is not None
    assert pool.reserve_successor() is None  # the other retiring one reconnects after
    assert pool.open == 3
