"""The fast serialiser and envelope agree with smtplib's ``send_message``, byte for byte.

Each generated message is built twice from one recipe, so that what the stdlib
does to a message while flattening it (a boundary it invents) cannot leak into
the other side. The stdlib's result is what smtplib itself computes.
"""

from __future__ import annotations

import contextlib
import copy
import email
import email.generator
import email.policy
import random
import smtplib
import unittest.mock
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from smtp_backend import wire_bytes
from smtp_backend.protocol.fast_envelope import fast_envelope
from smtp_backend.protocol.fast_flatten import fast_as_bytes, fast_flatten
from smtp_backend.protocol.message import flatten_message


class ReadsTextBack(email.policy.EmailPolicy):
    """A framework's policy (issue-18's Flask): reads a header stored as text back as text."""

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        return value if isinstance(value, str) else super().header_fetch_parse(name, value)


class FoldsItsOwnWay(email.policy.EmailPolicy):
    def fold_binary(self, name: str, value: Any) -> bytes:
        return super().fold_binary(name, value).replace(b": ", b":  ", 1)


# the policies the core and the integrations flatten with
POLICIES: dict[str, Any] = {
    "default": email.policy.default,
    "SMTP": email.policy.SMTP,
    "SMTPUTF8": email.policy.SMTPUTF8,
    "SMTP 7bit (Flask)": email.policy.SMTP.clone(cte_type="7bit"),
    "no line limit": email.policy.SMTP.clone(max_line_length=0),
    "40-column lines": email.policy.default.clone(max_line_length=40),
    "mangle_from_": email.policy.SMTP.clone(mangle_from_=True),
    "reads text back (Flask)": ReadsTextBack(linesep="\r\n"),
    "compat32": email.policy.compat32,
}
# the policies of common messages (not the 40-column one: it folds Content-Type)
EMAIL_POLICIES = [name for name in POLICIES if name not in ("compat32", "40-column lines")]


def smtplib_flatten(msg: Message, international: bool) -> bytes:
    """What ``smtplib.SMTP.send_message`` hands to ``sendmail`` as the message."""
    recorded: list[bytes] = []

    class Recorder(smtplib.SMTP):
        def ehlo_or_helo_if_needed(self) -> None:
            pass

        def has_extn(self, opt: str) -> bool:
            return opt.lower() == "smtputf8"

        def sendmail(self, *args: Any, **kwargs: Any) -> dict[str, tuple[int, bytes]]:
            recorded.append(args[2])
            return {}

    # smtplib goes international when an address is non-ASCII: give it one, or not
    to_addrs = ["rcpt@example.org"] + (["ünï@example.org"] if international else [])
    Recorder().send_message(msg, "sender@example.org", to_addrs)
    return recorded[0]


def outcome(call: Callable[[], bytes]) -> bytes | type[BaseException]:
    random.seed(1234)  # a boundary the generator invents is random
    try:
        return call()
    except Exception as exc:
        return type(exc)


# -- recipes ---------------------------------------------------------------------------


@dataclass
class Recipe:
    """Everything needed to build the same message twice."""

    policy: str
    headers: list[tuple[str, str]]
    body: str
    shape: str  # "text", "alternative", "attachment", "mime", "parsed"
    subtype: str = "plain"
    cte: str | None = None
    boundary: str | None = None
    preamble: str | None = None
    epilogue: str | None = None
    parts: list[str] = field(default_factory=list)


ascii_word = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1
)
local_part = st.one_of(
    st.lists(ascii_word, min_size=1, max_size=3).map(".".join),
    st.sampled_from(["a+tag", "first_last", "x-y", '"quoted local"', "ünï", "o'brien"]),
)
domain = st.one_of(
    st.lists(ascii_word, min_size=1, max_size=3).map(".".join).map(lambda d: d + ".example"),
    st.sampled_from(["exämple.org", "[127.0.0.1]", "localhost"]),
)
address = st.builds(lambda lp, d: f"{lp}@{d}", local_part, domain)
display_name = st.one_of(
    st.lists(ascii_word, min_size=1, max_size=3).map(" ".join),
    st.sampled_from(["Last, First", "J. R. Doe", "Zoë Ünïcode", "  spaced  ", '"Quoted"', ""]),
)
mailbox = st.one_of(
    address,
    st.builds(lambda n, a: f"{n} <{a}>", display_name, address),
    st.builds(lambda n, a: f'"{n}" <{a}>', display_name, address),
    st.builds(lambda a: f"{a} (a comment)", address),
    st.sampled_from(["undisclosed-recipients:;", "group: g1@example.org, g2@example.org;", ""]),
)
address_list = st.lists(mailbox, min_size=1, max_size=4).flatmap(
    lambda boxes: st.sampled_from([", ", ",", " , ", ",  "]).map(lambda sep: sep.join(boxes))
)


def pieces(specials: list[str], longest: int, most: int) -> st.SearchStrategy[str]:
    """Text from pieces: runs of printable ASCII, and what a folder treats specially."""
    run = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=longest)
    return st.lists(run | st.sampled_from(specials), max_size=most).map("".join)


header_text = pieces([" ", "\t", "é", "中", "=?", "?=", "  ", "\udce9", "x" * 70], 12, 12)
date_text = st.one_of(
    st.integers(0, 2**31).map(lambda t: formatdate(t, localtime=False)),
    st.sampled_from(["not a date", "Mon, 1 Jan 2024 00:00:00 +0000", ""]),
)
message_id = st.one_of(
    st.builds(lambda a: f"<{a}>", address), st.sampled_from(["no-brackets@x", "<a@b> <c@d>", ""])
)
ADDRESS_HEADERS = ["From", "To", "Cc", "Bcc", "Reply-To", "Sender", "Resent-Bcc", "to", "CC"]
TEXT_HEADERS = ["Subject", "X-Mailer", "Comments", "X-A-Rather-Long-Header-Name-For-Folding"]
header = st.one_of(
    st.tuples(st.sampled_from(ADDRESS_HEADERS), address_list),
    st.tuples(st.sampled_from(TEXT_HEADERS), header_text),
    st.tuples(st.just("Date"), date_text),
    st.tuples(st.just("Message-ID"), message_id),
)
body_text = pieces(["\n", "\r\n", "\r", "\nFrom ", "\n.\n", "é", "中", "\t", "y" * 100], 20, 20)
boundary = st.none() | st.sampled_from(["b0undary", "=_part_1", "a" * 60, "with space"])


@st.composite
def recipes(draw: st.DrawFn, policies: list[str] | None = None) -> Recipe:
    return Recipe(
        policy=draw(st.sampled_from(policies or list(POLICIES))),
        headers=draw(st.lists(header, max_size=8)),
        body=draw(body_text),
        shape=draw(st.sampled_from(["text", "alternative", "attachment", "mime", "parsed"])),
        subtype=draw(st.sampled_from(["plain", "html"])),
        cte=draw(st.sampled_from([None, "7bit", "8bit", "quoted-printable", "base64"])),
        boundary=draw(boundary),
        preamble=draw(st.none() | body_text),
        epilogue=draw(st.none() | body_text),
        parts=draw(st.lists(body_text, max_size=3)),
    )


def build(recipe: Recipe) -> Message:
    """The message a recipe describes (deterministic: no generated ids or boundaries)."""
    policy = POLICIES[recipe.policy]
    # set_content cannot encode without a line limit: build under SMTP, send under policy
    building = policy if policy.max_line_length else email.policy.SMTP
    if recipe.policy == "compat32" or recipe.shape == "mime":
        msg: Message = _mime(recipe, building)
    else:
        msg = _email_message(recipe, building)
    msg.policy = policy  # the generator folds every part by the top message's policy
    for name, value in recipe.headers:
        try:
            msg[name] = value
        except (ValueError, AttributeError):
            continue  # a value the header class refuses (or trips on): left out
    if recipe.shape == "parsed":
        # source headers and bodies, as a relay or the CLI sends a file
        random.seed(0)  # the boundary the generator invents becomes part of the source
        try:
            source = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        except (UnicodeError, ValueError):
            reject()  # no source to parse
        msg = email.message_from_bytes(source, policy=policy)
    return msg


def _email_message(recipe: Recipe, policy: Any) -> Message:
    msg = EmailMessage(policy=policy)
    try:
        msg.set_content(recipe.body, subtype=recipe.subtype, cte=recipe.cte)
    except ValueError:
        msg.set_content(recipe.body, subtype=recipe.subtype)  # a CTE the text cannot take
    if recipe.shape == "alternative":
        msg.add_alternative(f"<p>{recipe.body}</p>", subtype="html")
    elif recipe.shape == "attachment":
        for index, text in enumerate(recipe.parts):
            data = text.encode("utf-8", "surrogateescape")
            msg.add_attachment(data, "application", "octet-stream", filename=f"f{index}.bin")
    if msg.is_multipart():
        if recipe.boundary is not None:
            msg.set_boundary(recipe.boundary)
        msg.preamble, msg.epilogue = recipe.preamble, recipe.epilogue
    return msg


def _mime(recipe: Recipe, policy: Any) -> Message:
    """compat32-era classes (MIMEText, MIMEMultipart), under the recipe's policy."""
    charset = "us-ascii" if recipe.body.isascii() else "utf-8"
    text = MIMEText(recipe.body, recipe.subtype, charset, policy=policy)
    if not recipe.parts:
        return text
    outer = MIMEMultipart("mixed", recipe.boundary, policy=policy)
    outer.attach(text)
    for part in recipe.parts:
        outer.attach(MIMEText(part, "plain", "utf-8", policy=policy))
    outer.preamble, outer.epilogue = recipe.preamble, recipe.epilogue
    return outer


# -- the properties --------------------------------------------------------------------

GENEROUS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@GENEROUS
@given(recipe=recipes(), international=st.booleans())
def test_flatten_is_byte_for_byte_smtplibs(recipe: Recipe, international: bool) -> None:
    theirs = outcome(lambda: smtplib_flatten(build(recipe), international))
    ours = outcome(lambda: flatten_message(build(recipe), international=international))
    assert ours == theirs
    fast = fast_flatten(build(recipe), international=international)
    if fast is not None:  # where the fast path answers, it answers what smtplib sends
        assert fast == theirs


def stdlib_as_bytes(msg: Message) -> bytes:
    return Message.as_bytes(msg, policy=msg.policy.clone(linesep="\r\n"))


@GENEROUS
@given(recipe=recipes())
def test_wire_bytes_is_byte_for_byte_the_stdlibs_as_bytes(recipe: Recipe) -> None:
    theirs = outcome(lambda: stdlib_as_bytes(build(recipe)))
    assert outcome(lambda: wire_bytes(build(recipe))) == theirs
    fast = fast_as_bytes(build(recipe))
    if fast is not None:
        assert fast == theirs


@GENEROUS
@given(recipe=recipes())
def test_flatten_changes_the_callers_message_no_more_than_smtplib(recipe: Recipe) -> None:
    mine, theirs = build(recipe), build(recipe)
    untouched = snapshot(build(recipe))
    outcome(lambda: flatten_message(mine, international=False))
    outcome(lambda: smtplib_flatten(theirs, international=False))
    # the stdlib sets invented boundaries and mangles 8-bit "From " lines on subparts
    # (the fallback does as smtplib does); the fast path changes nothing
    assert snapshot(mine) in (untouched, snapshot(theirs))


def snapshot(msg: Message) -> list[tuple[list[tuple[str, str]], Any]]:
    """Every part's headers and leaf payload (a boundary set on a part shows here)."""
    return [
        (
            [(name, str(value)) for name, value in part.raw_items()],
            None if part.is_multipart() else part.get_payload(),
        )
        for part in msg.walk()
    ]


def smtplib_envelope(msg: Message) -> tuple[str, list[str]] | None:
    recorded: list[tuple[str, list[str]]] = []

    class Recorder(smtplib.SMTP):
        def ehlo_or_helo_if_needed(self) -> None:
            pass

        def has_extn(self, opt: str) -> bool:
            return True

        def sendmail(self, *args: Any, **kwargs: Any) -> dict[str, tuple[int, bytes]]:
            recorded.append((args[0], list(args[1])))
            return {}

    class SkipBody:  # the envelope alone: a body smtplib could not flatten does not matter
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def flatten(self, *args: Any, **kwargs: Any) -> None:
            pass

    try:
        with unittest.mock.patch.object(email.generator, "BytesGenerator", SkipBody):
            Recorder().send_message(copy.copy(msg))
    except (ValueError, TypeError, IndexError):
        return None
    return recorded[0]


@GENEROUS
@given(recipe=recipes())
def test_envelope_is_smtplibs(recipe: Recipe) -> None:
    msg = build(recipe)
    fast = fast_envelope(msg)
    if fast is not None:
        assert fast == smtplib_envelope(msg)


# -- the fast path is taken where it was made for -------------------------------------

plain_address = st.builds(
    lambda lp, d: f"{lp}@{d}",
    st.lists(ascii_word, min_size=1, max_size=2).map(".".join),
    st.lists(ascii_word, min_size=1, max_size=2).map(".".join),
).filter(lambda a: len(a) < 40)
plain_mailbox = plain_address | st.builds(
    lambda n, a: f"{n} <{a}>", ascii_word.filter(lambda w: len(w) < 20), plain_address
)


@settings(deadline=None)
@given(
    policy=st.sampled_from(EMAIL_POLICIES),
    sender=plain_mailbox,
    to=st.lists(plain_mailbox, min_size=1, max_size=1),
    subject=st.text(alphabet="abc XYZ 012.,!", max_size=40).map(str.strip),
    body=body_text.filter(str.isascii),
)
def test_common_messages_take_the_fast_path(
    policy: str, sender: str, to: list[str], subject: str, body: str
) -> None:
    msg = EmailMessage(policy=email.policy.SMTP)  # set_content needs a line limit
    msg["From"], msg["To"] = sender, ", ".join(to)
    if subject:
        msg["Subject"] = subject
    msg["Date"] = formatdate(1_700_000_000)
    msg["Message-ID"] = "<id.1@example.com>"
    msg.set_content(body)
    msg.policy = POLICIES[policy]
    assert fast_flatten(msg, international=False) == smtplib_flatten(msg, False)
    assert fast_envelope(msg) == smtplib_envelope(msg)


def test_compat32_mime_text_takes_the_fast_path() -> None:
    msg = MIMEText("From here on\nplain text\n")
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "B <b@example.org>", "Hello"
    flat = fast_flatten(msg, international=False)
    assert flat is not None and b"\r\n>From here on\r\n" in flat  # smtplib mangles From lines
    assert flat == smtplib_flatten(msg, False)


def test_multipart_with_a_boundary_takes_the_fast_path() -> None:
    msg = MIMEMultipart("mixed", "b0undary")
    msg["From"], msg["To"] = "a@example.org", "b@example.org"
    msg.attach(MIMEText("one"))
    msg.attach(MIMEText("two", "html"))
    msg.preamble = "preamble"
    assert fast_flatten(msg, international=False) == smtplib_flatten(msg, False)


@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("a header to fold", lambda m: m.replace_header("Subject", "word " * 30)),
        ("a non-ASCII header to encode", lambda m: m.replace_header("Subject", "Grüße")),
        ("a boundary to invent", lambda m: m.add_attachment(b"x", "application", "pdf")),
    ],
)
def test_what_the_fast_path_leaves_to_the_stdlib(
    why: str, change: Callable[[EmailMessage], None]
) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "Hi"
    msg.set_content("body\n")
    change(msg)
    assert fast_flatten(msg, international=False) is None, why
    assert outcome(lambda: flatten_message(copy.deepcopy(msg), international=False)) == outcome(
        lambda: smtplib_flatten(copy.deepcopy(msg), False)
    )


class PayloadOfItsOwn(EmailMessage):
    def get_payload(self, *args: Any, **kwargs: Any) -> Any:
        return "another body\n"


class SerialisedElsewhere(EmailMessage):  # as Django's SafeMIME classes: as_bytes only
    def as_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        return b"unused by smtplib"


@pytest.mark.parametrize(("cls", "fast"), [(PayloadOfItsOwn, False), (SerialisedElsewhere, True)])
def test_a_subclass_takes_the_fast_path_only_if_the_generator_sees_a_message(
    cls: type[EmailMessage], fast: bool
) -> None:
    msg = cls()
    msg["From"], msg["To"] = "a@example.org", "b@example.org"
    msg.set_content("body\n")
    assert (fast_flatten(msg, international=False) is not None) is fast
    assert flatten_message(msg, international=False) == smtplib_flatten(msg, False)


@pytest.mark.parametrize("policy", ["SMTP", "SMTPUTF8", "SMTP 7bit (Flask)", "compat32"])
@GENEROUS
@given(recipe=recipes(policies=EMAIL_POLICIES))
def test_wire_bytes_with_a_policy_is_the_stdlibs(policy: str, recipe: Recipe) -> None:
    chosen = POLICIES[policy]
    theirs = outcome(lambda: Message.as_bytes(build(recipe), policy=chosen.clone(linesep="\r\n")))
    assert outcome(lambda: wire_bytes(build(recipe), chosen)) == theirs


def test_a_policy_that_folds_its_own_way_is_the_stdlibs() -> None:
    msg = EmailMessage(policy=FoldsItsOwnWay(linesep="\r\n"))
    msg["From"], msg["To"] = "a@example.org", "b@example.org"
    msg.set_content("body\n")
    assert fast_flatten(msg, international=False) is None
    assert flatten_message(msg, international=False) == smtplib_flatten(msg, False)
    assert b"From:  a@example.org" in wire_bytes(msg)


def test_as_bytes_keeps_bcc_and_from_lines() -> None:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Bcc"] = "a@example.org", "b@example.org", "c@example.org"
    msg.set_content("From the start\n")
    fast = fast_as_bytes(msg)
    assert fast is not None and b"Bcc: c@example.org\r\n" in fast
    assert b"\r\nFrom the start\r\n" in fast
    assert fast == msg.as_bytes()


def test_bcc_is_not_transmitted_by_the_fast_path() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Bcc"] = "a@example.org", "b@example.org", "hidden@example.org"
    msg["Resent-Bcc"] = "also-hidden@example.org"
    msg.set_content("body\n")
    flat = fast_flatten(msg, international=False)
    assert flat is not None and b"hidden" not in flat
    assert "Bcc" in msg, "the caller's message keeps its Bcc"


# plain mailboxes and their near misses: what the envelope's pattern must tell apart
near_plain_mailbox = st.one_of(
    plain_mailbox,
    plain_mailbox.map(lambda box: " " + box),
    plain_mailbox.map(lambda box: box.replace(" ", "  ")),
    plain_mailbox.map(lambda box: box.replace("@", ".@")),
    plain_mailbox.map(lambda box: box.replace("<", '"x, y" <')),
    plain_mailbox.map(lambda box: box + " (comment)"),
    plain_mailbox.map(lambda box: box.upper()),
    st.sampled_from(["a@b.c <d@e.f>", "a@b.c, ", "<a@b.c>", "a.@b.c", "a@b..c", "a@-b.c"]),
)
near_plain_list = st.lists(near_plain_mailbox, min_size=1, max_size=3).map(", ".join)
ENVELOPE_HEADERS = ["From", "Sender", "To", "Cc", "Bcc", "Resent-Date", "Resent-From", "Resent-To"]


@GENEROUS
@given(
    compat32=st.booleans(),
    headers=st.lists(st.tuples(st.sampled_from(ENVELOPE_HEADERS), near_plain_list), max_size=6),
)
def test_envelope_of_near_plain_headers_is_smtplibs(
    compat32: bool, headers: list[tuple[str, str]]
) -> None:
    msg = Message() if compat32 else EmailMessage()
    for name, value in headers:
        value = "Mon, 1 Jan 2024 00:00:00 +0000" if name == "Resent-Date" else value
        with contextlib.suppress(ValueError):  # EmailMessage allows one From, To, ...
            msg[name] = value
    msg.set_payload("body\n")
    fast = fast_envelope(msg)
    if fast is not None:
        assert fast == smtplib_envelope(msg)
