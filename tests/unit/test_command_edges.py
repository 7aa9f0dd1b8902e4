"""Command validation at its edges: each pattern's accepted and refused inputs,
backslashes in quoted local parts, the error text, and agreement with smtplib."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from smtp_backend.errors import SMTPInvalidInputError
from smtp_backend.protocol import (
    command_line,
    mail_command,
    path_argument,
    quoteaddr,
    rcpt_command,
    validate_hostname,
)
from smtp_backend.protocol.commands import reject_controls, validate_esmtp_parameter

# -- _CONTROL: C0 controls and DEL are refused; everything printable passes --------


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


@pytest.mark.parametrize("char", ["\x00", "\t", "\x1f", "\x7f"], ids=codepoint)
def test_control_characters_at_the_edges_are_refused(char: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="a control character"):
        reject_controls(f"a{char}b", "sender")


@pytest.mark.parametrize("char", [" ", "~", "\x80", "é", "\u2028"], ids=codepoint)
def test_printable_and_non_ascii_characters_pass_the_control_check(char: str) -> None:
    reject_controls(f"a{char}b", "sender")


# -- the quoted-local-part scan ------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        '"a\\" b"@example.test',  # an escaped quote does not end the quoted string
        '"a\\\\b"@example.test',  # an escaped backslash
        '"a\\<b"@example.test',
    ],
)
def test_backslash_escapes_inside_a_quoted_local_part_are_sent_as_given(address: str) -> None:
    assert mail_command(address) == f"mail from:<{address}>\r\n"


@pytest.mark.parametrize(
    "address",
    [
        '"a\\\\" b@example.test',  # the backslash escapes a backslash; the quote closes
        '"a\\\\" <x>@example.test',
        "a\\ b@example.test",  # outside quotes a backslash escapes nothing
        '"a\\"@example.test',  # the only closing quote is escaped: never closed
    ],
)
def test_what_follows_an_escaped_backslash_is_checked_again(address: str) -> None:
    with pytest.raises(SMTPInvalidInputError):
        mail_command(address)


# -- _ANGLE_FORM: "mailbox", "<mailbox>", "Name <mailbox>"; nothing else ------------------


@pytest.mark.parametrize(
    ("address", "path"),
    [
        ("bob@example.test", "<bob@example.test>"),
        ("  bob@example.test  ", "<bob@example.test>"),
        ("<bob@example.test>", "<bob@example.test>"),
        ("<bob@example.test>   ", "<bob@example.test>"),
        ("Bob Smith <bob@example.test>", "<bob@example.test>"),
        ('"Smith, Bob" <bob@example.test>', "<bob@example.test>"),
    ],
)
def test_accepted_address_forms(address: str, path: str) -> None:
    assert path_argument(address) == path


def test_a_display_name_with_empty_brackets_is_the_null_sender() -> None:
    assert mail_command("Mailer Daemon <>") == "mail from:<>\r\n"


@pytest.mark.parametrize(
    "address",
    [
        "<bob@example.test> x",
        "<<bob@example.test>>",
        "Bob <bob@example.test",
        "<bob@example.test>>",
        '"a<b" <bob@example.test>',
    ],
)
def test_refused_address_forms(address: str) -> None:
    with pytest.raises(SMTPInvalidInputError):
        path_argument(address)


# -- _ESMTP_KEYWORD and _ESMTP_VALUE (RFC 5321 §4.1.2, RFC 6531) ----------------------


@pytest.mark.parametrize(
    "option", ["A", "9", "X-A1", "x-", "SIZE=0", "K=~", "K=!", "K=é", "K=a-b+c", "K=<x>"]
)
def test_accepted_esmtp_parameters(option: str) -> None:
    validate_esmtp_parameter(option)


@pytest.mark.parametrize(
    "option", ["", "-A", "A_B", "Ä", "A.B", "K=", "K= ", "K=a b", "K==", "K=a=b", " K=1"]
)
def test_refused_esmtp_parameters(option: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="KEYWORD"):
        validate_esmtp_parameter(option)


def test_options_may_be_any_iterable_including_a_generator() -> None:
    options = (o for o in ["SIZE=10", "BODY=8BITMIME"])
    assert mail_command("a@example.test", options) == (
        "mail from:<a@example.test> SIZE=10 BODY=8BITMIME\r\n"
    )


# -- _HOSTNAME: a domain or an address literal ------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "a-b.example.test", "xn--bcher-kva.example", "[192.0.2.1]", "[IPv6:2001:db8::1]"]
)
def test_accepted_hostnames(name: str) -> None:
    validate_hostname(name)


@pytest.mark.parametrize(
    "name",
    ["a,b", "a;b", "a:b", "(a)", 'a"b', "a\\b", "a[1]", "[]", "[a b]", "[[1]]", "[1]x", "a b"],
)
def test_refused_hostnames(name: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="local_hostname"):
        validate_hostname(name)


# -- error text -------------------------------------------------------------------------


def test_a_value_up_to_80_characters_is_shown_whole_in_the_error() -> None:
    value = "b" * 79 + "\x00"
    with pytest.raises(SMTPInvalidInputError) as info:
        reject_controls(value, "sender")
    assert repr(value) in str(info.value)


def test_an_81_character_value_is_shown_cut_to_77_characters_and_an_ellipsis() -> None:
    value = "a" * 76 + "bc\x00" + "z" * 2
    assert len(value) == 81
    with pytest.raises(SMTPInvalidInputError) as info:
        reject_controls(value, "sender")
    assert repr("a" * 76 + "b...") in str(info.value)
    assert "bc" not in str(info.value)


@pytest.mark.parametrize(
    ("build", "what"),
    [
        (lambda bad: mail_command(bad), "sender"),
        (lambda bad: rcpt_command(bad), "recipient"),
        (lambda bad: mail_command("a@example.test", [f"X={bad}"]), "ESMTP parameter"),
    ],
    ids=["sender", "recipient", "parameter"],
)
@pytest.mark.parametrize("bad", ["x\x00y", "x y"], ids=["control", "space"])
def test_the_error_names_what_was_wrong(build: Callable[[str], str], what: str, bad: str) -> None:
    with pytest.raises(SMTPInvalidInputError) as info:
        build(bad)
    assert str(info.value).startswith(what + " ")


# -- smtplib agreement ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "bob@example.test",
        "<bob@example.test>",
        "Bob <bob@example.test>",
        "",
        "<>",
        "  <x",
        "@",
        "a b",
    ],
)
def test_quoteaddr_agrees_with_smtplib(address: str) -> None:
    assert quoteaddr(address) == smtplib.quoteaddr(address)


@pytest.mark.parametrize(
    "args", ["a\rb", "a\nb", "a\r\nb", "\n"], ids=["CR", "LF", "CRLF", "LF alone"]
)
def test_a_bare_cr_or_lf_in_a_command_is_refused_with_smtplibs_error(args: str) -> None:
    with pytest.raises(ValueError) as ours:
        command_line("NOOP", args)
    with pytest.raises(ValueError) as theirs:
        smtplib.SMTP().putcmd("NOOP", args)
    assert str(ours.value) == str(theirs.value)
