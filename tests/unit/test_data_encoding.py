"""Data phase octets: canonical CRLF, dot-stuffing, one terminator, exact BDAT lengths."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtp_backend.protocol import (
    ServerFeatures,
    encode_data,
    normalize_line_endings,
    prepare_transaction,
)
from smtp_backend.results import Envelope

TERMINATOR = b"\r\n.\r\n"
# Bytes rich in the characters that matter, so hypothesis hits the edge cases often.
data_bytes = st.lists(
    st.sampled_from([b"\r", b"\n", b".", b"\r\n", b"a", b" ", b"\x00", b"\xff", b"..", b"\r.\r"]),
    max_size=60,
).map(b"".join) | st.binary(max_size=200)


def unstuff(encoded: bytes) -> bytes:
    """What an RFC 5321 receiver reconstructs from a DATA payload (§4.5.2)."""
    assert encoded.endswith(b".\r\n")
    body = encoded[: -len(b".\r\n")]
    lines = body.split(b"\r\n")
    assert lines[-1] == b""
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines[:-1])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a\nb", b"a\r\nb\r\n.\r\n"),
        (b"a\rb", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b".start\n", b"..start\r\n.\r\n"),
        (b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\n\rb", b"a\r\n\r\nb\r\n.\r\n"),
        (b"", b"\r\n.\r\n"),
    ],
)
def test_smuggling_sequences_become_stuffed_lines(raw: bytes, expected: bytes) -> None:
    assert encode_data(raw) == expected


@given(data_bytes)
def test_encoded_data_never_holds_a_bare_cr_or_lf(raw: bytes) -> None:
    encoded = encode_data(raw)
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", encoded) is None


@given(data_bytes)
def test_terminator_appears_only_at_the_end(raw: bytes) -> None:
    encoded = encode_data(raw)
    assert encoded.endswith(b"\r\n.\r\n")
    assert encoded.find(TERMINATOR) == len(encoded) - len(TERMINATOR)


@given(data_bytes)
def test_every_line_leading_dot_is_stuffed(raw: bytes) -> None:
    lines = encode_data(raw).split(b"\r\n")[:-2]  # drop the terminator line and the tail
    for line in lines:
        assert not line.startswith(b".") or line.startswith(b"..")


@given(data_bytes)
def test_unstuffing_gives_back_the_normalised_input(raw: bytes) -> None:
    canonical = normalize_line_endings(raw)
    if not canonical.endswith(b"\r\n"):
        canonical += b"\r\n"
    assert unstuff(encode_data(raw)) == canonical


@given(data_bytes)
def test_normalize_is_idempotent_and_keeps_line_count(raw: bytes) -> None:
    once = normalize_line_endings(raw)
    assert normalize_line_endings(once) == once
    breaks = len(re.findall(rb"\r\n|\r|\n", raw))
    assert once.count(b"\r\n") == breaks


def _prepare(raw: bytes, *, use_bdat: bool) -> bytes:
    features = ServerFeatures(esmtp=True, pipelining=True, chunking=True)
    envelope = Envelope("a@example.test", ["b@example.test"], raw)
    return prepare_transaction(envelope, features, use_bdat=use_bdat).payload


def _canonical(raw: bytes) -> bytes:
    canonical = normalize_line_endings(raw)
    return canonical if canonical.endswith(b"\r\n") else canonical + b"\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: x\r\n\r\nbody\r\n",
        b"Subject: x\n\n.body\n",
        b"Subject: x\r\n\r\nno final newline",
    ],
)
def test_prepared_bdat_transaction_announces_its_exact_length(raw: bytes) -> None:
    header, _, chunk = _prepare(raw, use_bdat=True).partition(b"\r\n")
    assert chunk == _canonical(raw)
    assert header == b"BDAT %d LAST" % len(chunk)


@given(data_bytes)
def test_prepared_bdat_frame_length_is_exact(raw: bytes) -> None:
    header, _, chunk = _prepare(raw, use_bdat=True).partition(b"\r\n")
    assert header == b"BDAT %d LAST" % len(chunk)
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", chunk) is None
    assert chunk.endswith(b"\r\n")


def test_prepared_bdat_chunk_is_not_dot_stuffed() -> None:
    assert _prepare(b".a\n.\n", use_bdat=True) == b"BDAT 7 LAST\r\n.a\r\n.\r\n"


@given(data_bytes)
def test_prepared_data_transaction_unstuffs_to_the_canonical_message(raw: bytes) -> None:
    assert unstuff(_prepare(raw, use_bdat=False)) == _canonical(raw)
