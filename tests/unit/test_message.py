"""Message to envelope and wire bytes: the same result as smtplib's send_message and sendmail."""

from __future__ import annotations

import copy
import email
import email.message
import email.policy
import functools
import random
import smtplib
from collections.abc import Callable, Sequence
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtp_backend.errors import SMTPNotSupportedError
from smtp_backend.protocol.message import (
    envelope_addresses,
    flatten_message,
    message_to_envelope,
    needs_smtputf8,
    sendmail_data,
)
from smtp_backend.results import Envelope

SMTPUTF8_MESSAGE = (
    "One or more source or delivery addresses require internationalized email support,"
    " but the server does not advertise the required SMTPUTF8 capability"
)


class RecordingSMTP(smtplib.SMTP):
    """stdlib smtplib with the network cut out: records what send_message hands to sendmail."""

    def __init__(self, smtputf8: bool) -> None:
        super().__init__()
        self.smtputf8 = smtputf8
        self.recorded: tuple[Any, ...] | None = None

    def ehlo_or_helo_if_needed(self) -> None:
        pass

    def has_extn(self, opt: str) -> bool:
        return opt.lower() == "smtputf8" and self.smtputf8

    def sendmail(self, *args: Any) -> dict[str, tuple[int, bytes]]:
        self.recorded = args
        return {}


def stdlib_envelope(
    msg: email.message.Message,
    from_addr: str | None = None,
    to_addrs: Sequence[str] | str | None = None,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
    *,
    server_smtputf8: bool,
) -> Envelope:
    recorder = RecordingSMTP(server_smtputf8)
    recorder.send_message(msg, from_addr, to_addrs, mail_options, rcpt_options)
    assert recorder.recorded is not None
    sender, recipients, data, mail_opts, rcpt_opts = recorder.recorded
    if to_addrs is None:  # ours drops a header address that parses to nothing (no RCPT TO:<>)
        recipients = [address for address in recipients if address]
    return Envelope(sender, recipients, data, mail_opts, rcpt_opts)


def outcome(call: Callable[[], Envelope]) -> Envelope | tuple[type[BaseException], str]:
    """The envelope, or the smtplib-level kind and text of the error, for side-by-side checks."""
    random.seed(1234)  # a generated multipart boundary is random
    try:
        return call()
    except Exception as exc:
        kind: type[BaseException] = type(exc)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            kind = smtplib.SMTPNotSupportedError
        return kind, str(exc)


def assert_agrees_with_smtplib(msg: email.message.Message, *args: Any, **kwargs: Any) -> None:
    headers_before = msg.items()
    for smtputf8 in (False, True):
        twin = copy.deepcopy(msg)
        theirs = outcome(
            functools.partial(stdlib_envelope, twin, *args, server_smtputf8=smtputf8, **kwargs)
        )
        ours = outcome(
            functools.partial(message_to_envelope, msg, *args, server_smtputf8=smtputf8, **kwargs)
        )
        assert ours == theirs
        # smtplib sets generated boundaries on shared subparts; anything more is a change of ours.
        assert snapshot(msg) == snapshot(twin)
    assert msg.items() == headers_before, "the caller's headers were changed"


def snapshot(msg: email.message.Message) -> list[tuple[list[tuple[str, Any]], Any]]:
    """Every part's headers and leaf payload, without flattening (which may set boundaries)."""
    return [
        (part.items(), None if part.is_multipart() else part.get_payload()) for part in msg.walk()
    ]


def email_message(**headers: str | list[str]) -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    for name, value in headers.items():
        for item in value if isinstance(value, list) else [value]:
            msg[name.replace("_", "-")] = item
    msg.set_content("Hello.\n.\nA line that starts with a dot, and one more.\n")
    return msg


def compat32_message(text: str) -> email.message.Message:
    return email.message_from_string(text)


def mime_multipart_without_boundary() -> MIMEMultipart:
    msg = MIMEMultipart()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "bob@example.org"
    msg["Bcc"] = "hidden@example.org"
    msg.attach(MIMEText("body"))
    msg.attach(MIMEText("<p>body</p>", "html"))
    return msg


def attachments_message() -> email.message.EmailMessage:
    msg = email_message(From="a@example.org", To="b@example.org", Cc="c@example.org")
    msg.add_alternative("<p>Hello</p>", subtype="html")
    msg.add_attachment(bytes(range(256)), maintype="application", subtype="octet-stream")
    return msg


MESSAGES: dict[str, Callable[[], email.message.Message]] = {
    "plain": lambda: email_message(From="Alice <alice@example.org>", To="bob@example.org"),
    "all recipient headers": lambda: email_message(
        From="alice@example.org",
        To="Bob <bob@example.org>, carol@example.org",
        Cc="dave@example.org",
        Bcc="Eve <eve@example.org>",
        Subject="Hi",
    ),
    "sender header wins": lambda: email_message(
        From="alice@example.org, zed@example.org", Sender="secretary@example.org", To="b@x.org"
    ),
    "resent block": lambda: email_message(
        From="alice@example.org",
        To="bob@example.org",
        Bcc="old-hidden@example.org",
        Resent_Date="Mon, 1 Jan 2024 00:00:00 +0000",
        Resent_From="bob@example.org",
        Resent_To="carol@example.org",
        Resent_Cc="dave@example.org",
        Resent_Bcc="new-hidden@example.org",
    ),
    "resent with sender": lambda: email_message(
        From="alice@example.org",
        To="bob@example.org",
        Resent_Date="Mon, 1 Jan 2024 00:00:00 +0000",
        Resent_Sender="relay@example.org",
        Resent_From="bob@example.org",
        Resent_To="carol@example.org",
    ),
    "two resent blocks": lambda: email_message(
        From="alice@example.org",
        To="bob@example.org",
        Resent_Date=["Mon, 1 Jan 2024 00:00:00 +0000", "Tue, 2 Jan 2024 00:00:00 +0000"],
        Resent_To="carol@example.org",
    ),
    "non-ascii display names only": lambda: email_message(
        From="Jürgen <juergen@example.org>", To="Zoë <zoe@example.org>", Subject="Grüße"
    ),
    "non-ascii addresses": lambda: email_message(
        From="jürgen@exämple.org", To="zoë@example.org", Bcc="ñ@example.org", Subject="Grüße"
    ),
    "non-ascii recipient only": lambda: email_message(From="a@example.org", To="用户@例子.广告"),
    "no recipients": lambda: email_message(From="a@example.org", Subject="to nobody"),
    "duplicate headers": lambda: compat32_message(
        "From: a@example.org\nTo: one@example.org\nTo: two@example.org\n"
        "Bcc: x@y.org\nBcc: z@y.org\n\nbody\n"
    ),
    "attachments": attachments_message,
    "mime multipart without boundary": mime_multipart_without_boundary,
    "compat32 parsed": lambda: compat32_message(
        'From: a@example.org\nTo: b@example.org, "C, D" <cd@example.org>\nBcc: e@example.org\n'
        "Subject: x\n\nFrom the start of a line\n.\nend\n"
    ),
    "compat32 non-ascii address": lambda: compat32_message(
        "From: jürgen@exämple.org\nTo: b@example.org\n\nbody\n"
    ),
    "lowercase header names": lambda: compat32_message(
        "from: a@example.org\nto: b@example.org\nbcc: c@example.org\nresent-bcc: d@x.org\n\nb\n"
    ),
    "smtp policy": lambda: email.message_from_string(
        "From: a@example.org\nTo: b@example.org\nBcc: c@example.org\n\nbody\n",
        policy=email.policy.SMTP,
    ),
}


@pytest.mark.parametrize("name", MESSAGES)
def test_agrees_with_smtplib_from_headers(name: str) -> None:
    assert_agrees_with_smtplib(MESSAGES[name]())


@pytest.mark.parametrize("name", MESSAGES)
@pytest.mark.parametrize(
    ("from_addr", "to_addrs"),
    [
        ("override@example.org", None),
        (None, ["x@example.org", "y@example.org"]),
        ("o@example.org", "single@example.org"),
        ("o@example.org", ["ünïcode@example.org"]),
        ("", []),
    ],
)
def test_agrees_with_smtplib_with_explicit_envelope(
    name: str, from_addr: str | None, to_addrs: Sequence[str] | str | None
) -> None:
    assert_agrees_with_smtplib(MESSAGES[name](), from_addr, to_addrs)


@pytest.mark.parametrize("name", ["plain", "non-ascii addresses"])
def test_agrees_with_smtplib_on_options(name: str) -> None:
    assert_agrees_with_smtplib(MESSAGES[name](), None, None, ["SIZE=100"], ["NOTIFY=NEVER"])


def test_bcc_and_resent_bcc_are_never_transmitted() -> None:
    msg = MESSAGES["resent block"]()
    envelope = message_to_envelope(msg, server_smtputf8=False)
    assert b"hidden@example.org" not in envelope.data
    assert envelope.recipients == (
        "carol@example.org",
        "new-hidden@example.org",
        "dave@example.org",
    )
    assert envelope.sender == "bob@example.org"


def test_bcc_stripping_leaves_the_callers_message_unchanged() -> None:
    msg = MESSAGES["all recipient headers"]()
    headers_before = msg.items()
    data = flatten_message(msg, international=False)
    assert b"eve@example.org" not in data
    assert msg.items() == headers_before
    assert msg["Bcc"] == "Eve <eve@example.org>"


def test_generated_boundary_is_not_set_on_the_callers_message() -> None:
    # smtplib flattens a copy, so the caller's top-level message keeps no boundary.
    msg = mime_multipart_without_boundary()
    del msg["Bcc"]
    data = flatten_message(msg, international=False)
    assert msg.get_boundary() is None
    assert b"boundary=" in data


def test_flatten_uses_crlf_line_endings() -> None:
    data = flatten_message(MESSAGES["plain"](), international=False)
    assert data.count(b"\n") == data.count(b"\r\n") > 0


def test_several_resent_blocks_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one 'Resent-' header block"):
        envelope_addresses(MESSAGES["two resent blocks"](), "a@example.org", ["b@example.org"])


def test_non_ascii_address_needs_server_smtputf8() -> None:
    msg = MESSAGES["non-ascii addresses"]()
    with pytest.raises(SMTPNotSupportedError) as caught:
        message_to_envelope(msg, server_smtputf8=False)
    assert str(caught.value) == SMTPUTF8_MESSAGE
    assert isinstance(caught.value, smtplib.SMTPNotSupportedError)


def test_non_ascii_address_sends_utf8_headers_with_smtputf8() -> None:
    envelope = message_to_envelope(MESSAGES["non-ascii addresses"](), server_smtputf8=True)
    assert envelope.mail_options == ("SMTPUTF8", "BODY=8BITMIME")
    assert "From: jürgen@exämple.org\r\n".encode() in envelope.data
    assert envelope.recipients == ("zoë@example.org", "ñ@example.org")


def test_non_ascii_display_names_alone_do_not_need_smtputf8() -> None:
    envelope = message_to_envelope(
        MESSAGES["non-ascii display names only"](), server_smtputf8=False
    )
    assert envelope.mail_options == ()
    assert envelope.data.isascii()


def test_international_options_are_not_duplicated() -> None:
    msg = MESSAGES["non-ascii addresses"]()
    envelope = message_to_envelope(
        msg, mail_options=["smtputf8", "SIZE=10", "BODY=8BITMIME"], server_smtputf8=True
    )
    assert envelope.mail_options == ("smtputf8", "SIZE=10", "BODY=8BITMIME")


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        (("a@example.org", ["b@example.org"]), False),
        (("", []), False),
        (("á@example.org", []), True),
        (("a@example.org", ["b@example.org", "c@exämple.org"]), True),
    ],
)
def test_needs_smtputf8(addresses: tuple[str, list[str]], expected: bool) -> None:
    assert needs_smtputf8(*addresses) is expected


def test_sendmail_data_fixes_line_endings_of_str() -> None:
    assert sendmail_data("a\nb\rc\r\nd") == b"a\r\nb\r\nc\r\nd"


def test_sendmail_data_refuses_non_ascii_str_like_smtplib() -> None:
    with pytest.raises(UnicodeEncodeError):
        sendmail_data("Grüße\n")


def test_sendmail_data_passes_bytes_through() -> None:
    raw = b"a\nb\rc\r\n\xff"
    assert sendmail_data(raw) == raw
    assert sendmail_data(bytearray(raw)) == raw


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_sendmail_data_agrees_with_smtplib_fix_eols(text: str) -> None:
    assert sendmail_data(text) == smtplib._fix_eols(text).encode("ascii")  # type: ignore[attr-defined]


# Header values built from pieces that stress getaddresses: quoting, commas, groups, comments.
address_piece = st.sampled_from(
    [
        "a@example.org",
        "Bob <b@example.org>",
        '"Last, First" <lf@example.org>',
        "group: g1@example.org, g2@example.org;",
        "(comment) c@example.org",
        "ünï@example.org",
        "Zoë <z@exämple.org>",
        "not an address",
        "",
        "<>",
        "x@y, ,",
    ]
)
header_value = st.lists(address_piece, max_size=3).map(", ".join)


@given(
    from_=st.none() | header_value,
    sender=st.none() | header_value,
    to=st.none() | header_value,
    cc=st.none() | header_value,
    bcc=st.none() | header_value,
    resent=st.booleans(),
)
def test_envelope_agrees_with_smtplib_on_generated_headers(
    from_: str | None,
    sender: str | None,
    to: str | None,
    cc: str | None,
    bcc: str | None,
    resent: bool,
) -> None:
    msg = email.message.Message()  # compat32: header values reach getaddresses unparsed
    prefix = "Resent-" if resent else ""
    if resent:
        msg["Resent-Date"] = "Mon, 1 Jan 2024 00:00:00 +0000"
    for name, value in (("From", from_), ("Sender", sender), ("To", to), ("Cc", cc), ("Bcc", bcc)):
        if value is not None:
            msg[prefix + name] = value
    msg.set_payload("body\n")
    assert_agrees_with_smtplib(msg)
