"""Command validation: no argument can end a command early or smuggle in another."""

from __future__ import annotations

import pytest

from smtp_backend.errors import SMTPInvalidInputError
from smtp_backend.protocol import (
    command_line,
    mail_command,
    option_list,
    path_argument,
    rcpt_command,
    validate_hostname,
)

CONTROLS = [chr(c) for c in range(0x20) if c not in (0x09,)] + ["\x7f"]


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"0x{ord(c):02x}")
@pytest.mark.parametrize("build", [mail_command, rcpt_command], ids=["mail", "rcpt"])
def test_control_characters_in_addresses_are_rejected(build: object, char: str) -> None:
    assert callable(build)
    with pytest.raises(SMTPInvalidInputError) as info:
        build(f"bob{char}x@example.test")
    assert repr(char) in str(info.value)


def test_tab_in_an_address_is_rejected_too() -> None:
    with pytest.raises(SMTPInvalidInputError):
        rcpt_command("bob\t@example.test")


@pytest.mark.parametrize(
    "address", ["bob@example.test\r\nRCPT TO:<eve@evil.test>", "bob@example.test\nDATA"]
)
def test_newline_injection_error_says_newline(address: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="newline"):
        rcpt_command(address)


@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\x01", "\x1b", "\x7f"])
def test_control_characters_in_esmtp_parameters_are_rejected(char: str) -> None:
    with pytest.raises(SMTPInvalidInputError):
        mail_command("alice@example.test", [f"SIZE=1{char}0"])
    with pytest.raises(SMTPInvalidInputError):
        rcpt_command("bob@example.test", [f"NOTIFY=NEVER{char}"])


@pytest.mark.parametrize(
    "address",
    [
        "a b@c",
        "a@b\tBODY=8BITMIME",
        "a@b BODY=8BITMIME",
        "a@b> SIZE=1",
        "<a@b> BODY=8BITMIME",
        "a@b>",
    ],
)
def test_angle_brackets_and_spaces_outside_quotes_are_rejected(address: str) -> None:
    for build in (mail_command, rcpt_command):
        with pytest.raises(SMTPInvalidInputError):
            build(address)


def test_the_error_names_the_offending_value() -> None:
    with pytest.raises(SMTPInvalidInputError) as info:
        rcpt_command("bob smith@example.test")
    message = str(info.value)
    assert "recipient" in message
    assert "bob smith@example.test" in message
    assert "' ' outside quotes" in message


def test_quoted_local_part_with_spaces_is_allowed() -> None:
    assert rcpt_command('"john smith"@example.test') == 'rcpt to:<"john smith"@example.test>\r\n'


def test_quoted_local_part_with_angle_brackets_is_allowed() -> None:
    line = rcpt_command('"a>b <c"@example.test')
    assert line == 'rcpt to:<"a>b <c"@example.test>\r\n'


def test_unclosed_quote_is_rejected() -> None:
    with pytest.raises(SMTPInvalidInputError, match="quote"):
        rcpt_command('"john smith@example.test')


@pytest.mark.parametrize("sender", ["", "<>", " <> "])
def test_null_sender_is_allowed(sender: str) -> None:
    assert mail_command(sender) == "mail from:<>\r\n"


@pytest.mark.parametrize("recipient", ["", "<>", " <> ", "   ", "Bob <>"])
def test_null_path_is_refused_as_a_recipient(recipient: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="null path <> is only valid as the sender"):
        rcpt_command(recipient)


def test_display_name_form_sends_only_the_address() -> None:
    assert mail_command("Alice <alice@example.test>") == "mail from:<alice@example.test>\r\n"


def test_valid_options_are_appended() -> None:
    line = mail_command("alice@example.test", ["SIZE=100", "BODY=8BITMIME", "SMTPUTF8"])
    assert line == "mail from:<alice@example.test> SIZE=100 BODY=8BITMIME SMTPUTF8\r\n"
    assert option_list([]) == ""


@pytest.mark.parametrize(
    "option", ["SIZE=1 BODY=8BITMIME", "=1", "SIZE==1", "-X=1", "SIZE=", "A B"]
)
def test_malformed_esmtp_parameters_are_rejected(option: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="KEYWORD"):
        mail_command("alice@example.test", [option])


def test_malformed_parameter_error_states_the_rule_the_value_broke() -> None:
    with pytest.raises(SMTPInvalidInputError, match=r"with no space or '='\)"):
        mail_command("alice@example.test", ["SIZE=1=2"])


def test_angle_brackets_in_a_value_are_allowed_as_rfc_5321_says() -> None:
    # esmtp-value is any printable but "=" and space: ORCPT-style xtext may hold "<" and ">"
    line = mail_command("alice@example.test", ["X-TAG=<a>"])
    assert line == "mail from:<alice@example.test> X-TAG=<a>\r\n"


def test_utf8_address_and_value_pass_validation() -> None:
    assert mail_command("jöran@exämple.test", ["SMTPUTF8"]) == (
        "mail from:<jöran@exämple.test> SMTPUTF8\r\n"
    )


@pytest.mark.parametrize("name", ["client.example.test", "[127.0.0.1]", "[IPv6:::1]", "host"])
def test_valid_hostnames(name: str) -> None:
    validate_hostname(name)


@pytest.mark.parametrize(
    "name", ["a b", "host\r\nMAIL FROM:<x>", "a<b", "", "x@y", "[1.2.3.4", "a\x00b"]
)
def test_invalid_hostnames(name: str) -> None:
    with pytest.raises(SMTPInvalidInputError, match="local_hostname"):
        validate_hostname(name)


def test_command_line_refuses_newlines_with_smtplib_message() -> None:
    with pytest.raises(ValueError, match="prohibited newline characters"):
        command_line("NOOP", "x\r\nQUIT")
    assert command_line("NOOP") == "NOOP\r\n"
    assert command_line("VRFY", "bob") == "VRFY bob\r\n"


def test_path_argument_brackets_a_bare_address() -> None:
    assert path_argument("bob@example.test") == "<bob@example.test>"
    assert path_argument("<bob@example.test>") == "<bob@example.test>"
