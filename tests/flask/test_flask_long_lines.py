"""Which bodies go quoted-printable: a line over 998 octets (RFC 5322 2.1.1), ended by CR,
LF or CRLF, counted in the body's charset."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from flask_smtp_backend.mime import MAX_LINE_OCTETS, _has_long_line


def reference(text: str) -> bool:
    """The rule as its definition says it, line by line."""
    return any(
        len(line.encode("utf-8")) > MAX_LINE_OCTETS for line in re.split(r"\r\n|\r|\n", text)
    )


def test_the_limit_is_998_octets_a_line() -> None:
    assert not _has_long_line("x" * 998)
    assert _has_long_line("x" * 999)
    assert not _has_long_line(("x" * 998 + "\n") * 3)
    assert _has_long_line("short\r\n" + "x" * 999 + "\r\nshort")
    assert not _has_long_line("x" * 600 + "\r" + "x" * 600)  # a bare CR ends a line too
    assert _has_long_line("é" * 500)  # 1000 octets in UTF-8


@given(
    st.lists(
        st.tuples(
            st.integers(0, 1100), st.sampled_from(["a", "é"]), st.sampled_from(["\n", "\r", "\r\n"])
        )
    )
)
def test_matches_the_rule_line_by_line(lines: list[tuple[int, str, str]]) -> None:
    text = "".join(char * length + end for length, char, end in lines)
    assert _has_long_line(text) is reference(text)
