"""ReplyParser at its edges: the caps exactly at their limits, STARTTLS's clean start,
the debug record, and which texts carry an RFC 3463 enhanced code."""

from __future__ import annotations

import smtplib

import pytest

from smtp_backend.errors import SMTPProtocolError
from smtp_backend.protocol import MAX_LINE_LENGTH, ReplyParser, parse_enhanced_code
from smtp_backend.protocol.replies import MAX_REPLY_LINES, MAX_REPLY_SIZE
from smtp_backend.results import Reply


def replies_of(parser: ReplyParser) -> list[Reply]:
    out = []
    while (reply := parser.next_reply()) is not None:
        out.append(reply)
    return out


def multi_line(count: int, text: bytes) -> bytes:
    """A 250 reply of ``count`` lines, each ``text``: every line is ``len(text) + 6`` octets."""
    return b"".join(b"250%s%s\r\n" % (b"-" if i < count - 1 else b" ", text) for i in range(count))


FULL = b"x" * (MAX_LINE_LENGTH - 6)  # the text of a line of exactly MAX_LINE_LENGTH octets


# -- caps, exactly at their limits ----------------------------------------------------


def test_a_reply_of_exactly_the_line_count_cap_is_accepted_and_one_more_line_is_not() -> None:
    parser = ReplyParser()
    parser.feed(multi_line(MAX_REPLY_LINES, b"ok"))
    [reply] = replies_of(parser)
    assert reply.message.count(b"\n") == MAX_REPLY_LINES - 1
    with pytest.raises(SMTPProtocolError) as info:
        parser.feed(multi_line(MAX_REPLY_LINES + 1, b"ok"))
    assert info.value.smtp_code == 500


def test_a_reply_of_exactly_the_size_cap_is_accepted_and_one_more_octet_is_not() -> None:
    lines = MAX_REPLY_SIZE // MAX_LINE_LENGTH  # the size cap is hit long before the line cap
    exact = multi_line(lines, FULL)
    assert len(exact) == MAX_REPLY_SIZE
    parser = ReplyParser()
    parser.feed(exact)
    parser.feed(exact)  # the count starts again with each reply
    assert [r.code for r in replies_of(parser)] == [250, 250]
    with pytest.raises(SMTPProtocolError) as info:
        parser.feed(b"250-x\r\n" + exact)
    assert info.value.smtp_code == 500


def test_the_caps_raise_smtplibs_exception_and_text() -> None:
    # smtplib raises SMTPResponseException(500, "Line too long.") for an over-long line
    with pytest.raises(smtplib.SMTPResponseException) as info:
        ReplyParser().feed(b"250 x" + FULL + b"\r\n")
    assert (info.value.smtp_code, info.value.smtp_error) == (500, "Line too long.")
    with pytest.raises(smtplib.SMTPResponseException) as info:
        ReplyParser().feed(multi_line(MAX_REPLY_LINES + 1, b"ok"))
    assert (info.value.smtp_code, info.value.smtp_error) == (500, "Reply too long.")


def test_the_line_cap_counts_each_line_not_the_read_that_brought_it() -> None:
    # a long EHLO answer arrives in one read far larger than one line may be
    stream = multi_line(900, b"AUTH PLAIN LOGIN XOAUTH2") + b"250 second\r\n"
    assert len(stream) > 2 * MAX_LINE_LENGTH
    parser = ReplyParser()
    parser.feed(stream)
    assert [r.code for r in replies_of(parser)] == [250, 250]


def test_a_blank_line_is_an_unparsable_reply_as_smtplib_reports_it() -> None:
    # smtplib's getreply() gives -1 for a line whose code is not three digits
    parser = ReplyParser()
    parser.feed(b"250 ok\r\n")
    parser.feed(b"\n")
    assert [r.code for r in replies_of(parser)] == [250, -1]
    assert not parser.has_partial


# -- STARTTLS and debug output --------------------------------------------------------


def test_after_take_unparsed_the_next_reply_starts_clean() -> None:
    # half a reply received in clear text must not merge into the first reply over TLS
    parser = ReplyParser()
    parser.feed(b"220 go ahead\r\n250-injected\r\n250-" + b"x" * 100)
    assert parser.take_unparsed() == b"250-" + b"x" * 100
    exact = multi_line(MAX_REPLY_SIZE // MAX_LINE_LENGTH, FULL)
    parser.feed(exact)  # a reply of exactly the size cap still fits: no size is carried over
    [reply] = replies_of(parser)
    assert reply.code == 250 and b"injected" not in reply.message


def test_take_unparsed_of_a_fresh_parser_is_empty_bytes() -> None:
    assert ReplyParser().take_unparsed() == b""


def test_raw_lines_records_every_received_line_verbatim_when_enabled() -> None:
    parser = ReplyParser()
    parser.feed(b"220 hi\r\n")
    parser.raw_lines = []
    parser.feed(b"250-a\r\n250 b\n55")
    parser.feed(b"0 no\r\n")
    assert parser.raw_lines == [b"250-a\r\n", b"250 b\n", b"550 no\r\n"]


# -- the RFC 3463 pattern (_ENHANCED) -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (200, b"2.0.0 lowest code of class 2", (2, 0, 0)),
        (299, b"2.0.0 highest code of class 2", (2, 0, 0)),
        (400, b"4.0.0", (4, 0, 0)),
        (500, b"5.5.2 syntax error", (5, 5, 2)),
        (599, b"5.0.0", (5, 0, 0)),
        (250, b"2.999.999 three digits each", (2, 999, 999)),
        (250, b"2.1.5\tthen a tab", (2, 1, 5)),
        (250, b"2.1000.0 four digits", None),
        (250, b"2.1.1000", None),
        (250, b"2..5 a part missing", None),
        (250, b"2.1 two parts", None),
        (250, b"2.1.5- no space after", None),
        (250, b"22.1.5", None),
        (250, b" 2.1.5 leading space", None),
        (150, b"1.0.0 no class 1", None),
        (-1, b"2.0.0 on an unparsable line", None),
    ],
)
def test_enhanced_codes_at_the_edges_of_rfc_3463(
    code: int, text: bytes, expected: tuple[int, int, int] | None
) -> None:
    assert parse_enhanced_code(code, text) == expected
