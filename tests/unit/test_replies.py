"""ReplyParser: server bytes -> complete replies, whatever way the bytes arrive."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtp_backend.errors import SMTPProtocolError
from smtp_backend.protocol import MAX_LINE_LENGTH, ReplyParser, parse_enhanced_code
from smtp_backend.results import Reply


def parse(*chunks: bytes) -> list[Reply]:
    parser = ReplyParser()
    replies: list[Reply] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (reply := parser.next_reply()) is not None:
            replies.append(reply)
    return replies


def test_single_line_reply() -> None:
    assert parse(b"250 2.1.0 OK\r\n") == [Reply(250, b"2.1.0 OK", (2, 1, 0))]


def test_multi_line_reply_joins_texts_with_lf_as_smtplib() -> None:
    [reply] = parse(b"250-mail.test hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
    assert reply.code == 250
    assert reply.message == b"mail.test hello\nPIPELINING\nSIZE 1000"


def test_bare_lf_line_endings_are_accepted() -> None:
    assert parse(b"250-one\n250 two\n") == [Reply(250, b"one\ntwo")]


def test_partial_reply_waits_for_its_last_line() -> None:
    parser = ReplyParser()
    parser.feed(b"250-one\r\n250 tw")
    assert parser.next_reply() is None
    assert parser.has_partial
    parser.feed(b"o\r\n")
    assert parser.next_reply() == Reply(250, b"one\ntwo")
    assert not parser.has_partial


def test_several_replies_in_one_read_come_out_in_order() -> None:
    replies = parse(b"250 a\r\n550 5.1.1 no\r\n354 go\r\n")
    assert [r.code for r in replies] == [250, 550, 354]
    assert replies[1].enhanced == (5, 1, 1)


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (250, b"2.1.5 OK", (2, 1, 5)),
        (550, b"5.7.1 denied", (5, 7, 1)),
        (451, b"4.3.0 later", (4, 3, 0)),
        (250, b"5.1.1 class does not match the code", None),
        (550, b"2.0.0 class does not match the code", None),
        (250, b"2.1.5", (2, 1, 5)),
        (250, b"2.1.5x not a code", None),
        (250, b"OK 2.1.5", None),
        (250, b"3.0.0 no class 3 in RFC 3463", None),
    ],
)
def test_enhanced_code_parsed_only_when_its_class_matches(
    code: int, text: bytes, expected: tuple[int, int, int] | None
) -> None:
    assert parse_enhanced_code(code, text) == expected
    [reply] = parse(b"%d %s\r\n" % (code, text))
    assert reply.enhanced == expected


def test_garbage_line_gives_code_minus_one() -> None:
    [reply] = parse(b"hello there\r\n")
    assert reply.code == -1
    assert reply.code < 100  # callers treat it as a broken connection


def test_garbage_in_the_middle_of_a_multi_line_reply_ends_it_with_minus_one() -> None:
    [reply] = parse(b"250-one\r\nxx\r\n")
    assert reply.code == -1


def test_line_of_exactly_the_cap_is_accepted() -> None:
    line = b"250 " + b"x" * (MAX_LINE_LENGTH - 6) + b"\r\n"
    assert len(line) == MAX_LINE_LENGTH
    [reply] = parse(line)
    assert reply.code == 250


def test_line_over_the_cap_raises_as_smtplib() -> None:
    line = b"250 " + b"x" * (MAX_LINE_LENGTH - 5) + b"\r\n"
    with pytest.raises(SMTPProtocolError) as info:
        parse(line)
    assert info.value.smtp_code == 500


def test_endless_line_without_lf_raises_before_its_end() -> None:
    parser = ReplyParser()
    with pytest.raises(SMTPProtocolError):
        for _ in range(10):
            parser.feed(b"250 " + b"x" * 4096)


def test_endless_multi_line_reply_is_capped() -> None:
    parser = ReplyParser()
    with pytest.raises(SMTPProtocolError):
        for _ in range(100_000):
            parser.feed(b"250-more\r\n")
    assert parser.next_reply() is None


def test_byte_at_a_time_gives_the_same_replies() -> None:
    stream = b"220 hi\r\n250-a\r\n250-b\r\n250 c\r\n550 5.1.1 no\n354 go\r\n"
    assert parse(*(stream[i : i + 1] for i in range(len(stream)))) == parse(stream)


def test_take_unparsed_discards_bytes_sent_before_tls() -> None:
    parser = ReplyParser()
    parser.feed(b"220 go ahead\r\n250 injected")
    assert parser.take_unparsed() == b"250 injected"
    assert parser.next_reply() is None
    assert not parser.has_partial


_text = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c not in b"\r\n"))
_reply = st.tuples(st.integers(200, 599), st.lists(_text, min_size=1, max_size=5))


def _encode(code: int, lines: list[bytes], crlf: bool) -> bytes:
    eol = b"\r\n" if crlf else b"\n"
    return b"".join(
        b"%d%s%s%s" % (code, b" " if i == len(lines) - 1 else b"-", line, eol)
        for i, line in enumerate(lines)
    )


@given(
    replies=st.lists(_reply, min_size=1, max_size=8),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(0, 2000), max_size=20),
)
def test_any_split_of_a_reply_stream_parses_identically(
    replies: list[tuple[int, list[bytes]]], crlf: bool, cuts: list[int]
) -> None:
    stream = b"".join(_encode(code, lines, crlf) for code, lines in replies)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    whole = parse(stream)
    assert parse(*chunks) == whole
    assert [r.code for r in whole] == [code for code, _ in replies]
    assert [r.message for r in whole] == [
        b"\n".join(line.strip(b" \t") for line in lines) for _, lines in replies
    ]
