"""Django's own message classes go through the fast serialiser: the bytes Django's path makes.

The oracle is Django's: ``message()`` then ``as_bytes`` as Django's SMTP backend calls
it (``linesep="\\r\\n"`` before Django 6; the SMTP policy from 6.0). Each side flattens its
own copy of one built message, with the same random seed (a boundary may be invented).
"""

from __future__ import annotations

import copy
import email.message
import email.policy
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_smtp_backend.envelopes import _takes_policy
from django_smtp_backend.fast_path import building_policy, fast_message_bytes
from smtp_backend.protocol.fast_flatten import fast_as_bytes


def built(django_message: EmailMessage) -> email.message.Message:
    """``message()`` as the backend builds it, without the Bcc header."""
    if _takes_policy(type(django_message)):
        message: email.message.Message = django_message.message(policy=email.policy.SMTP)
    else:
        message = django_message.message()
    del message["Bcc"]
    return message


def djangos_bytes(message: email.message.Message) -> bytes:
    if isinstance(message, email.message.EmailMessage):
        return message.as_bytes()  # Django 6: the SMTP policy's CRLF
    return message.as_bytes(linesep="\r\n")  # type: ignore[call-arg]


def outcome(call: Callable[[], bytes | None]) -> bytes | type[BaseException] | None:
    random.seed(99)
    try:
        return call()
    except Exception as exc:
        return type(exc)


words = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
text = st.lists(
    words | st.sampled_from(["\n", "Grüße", "中文", "From here\n", "x" * 90, "\r\n"]), max_size=6
).map("".join)
mailbox = st.sampled_from(
    [
        "a@example.org",
        "Bob <bob@example.org>",
        '"Last, First" <lf@example.org>',
        "Zoë <zoe@example.org>",
        "long.local.part.for.folding.tests@a-rather-long-domain-name.example.org",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=text.map(lambda s: s.replace("\n", " ").replace("\r", " ")),
    body=text,
    sender=mailbox,
    to=st.lists(mailbox, min_size=1, max_size=3),
    cc=st.lists(mailbox, max_size=2),
    bcc=st.lists(mailbox, max_size=2),
    html=st.none() | text,
    attachment=st.none() | st.binary(max_size=200),
    headers=st.dictionaries(st.sampled_from(["X-Tag", "Reply-To", "X-Long"]), words, max_size=2),
)
def test_fast_bytes_are_djangos_bytes(
    subject: str,
    body: str,
    sender: str,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    html: str | None,
    attachment: bytes | None,
    headers: dict[str, str],
) -> None:
    message = EmailMultiAlternatives(
        subject, body, sender, to, bcc=bcc, cc=cc, headers=headers or None
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    if attachment is not None:
        message.attach("data.bin", attachment, "application/octet-stream")
    try:
        mime = built(message)
    except Exception:  # a value Django itself refuses: nothing to compare
        return
    theirs = outcome(lambda: djangos_bytes(copy.deepcopy(mime)))
    assert outcome(lambda: fast_message_bytes(message, copy.deepcopy(mime))) == theirs


plain_mailbox = st.sampled_from(["a@example.org", "Bob <bob@example.org>", "c.d@example.net"])


@settings(max_examples=100, deadline=None)
@given(
    subject=words,
    body=st.lists(words, max_size=8).map("\n".join),
    to=st.lists(plain_mailbox, min_size=1, max_size=2),
    headers=st.fixed_dictionaries({}, optional={"X-Tag": words, "Reply-To": plain_mailbox}),
)
def test_plain_messages_are_djangos_bytes(
    subject: str, body: str, to: list[str], headers: dict[str, str]
) -> None:
    message = EmailMessage(subject, body, "a@example.org", to, headers=headers or None)
    mime = built(message)
    theirs = outcome(lambda: djangos_bytes(copy.deepcopy(mime)))
    assert outcome(lambda: fast_message_bytes(message, copy.deepcopy(mime))) == theirs


class Customised(EmailMessage):
    def message(self, **kwargs: Any) -> Any:
        msg = super().message(**kwargs)
        msg["X-Custom"] = "yes"
        return msg


@pytest.mark.parametrize("cls", [EmailMessage, EmailMultiAlternatives])
def test_djangos_own_classes_take_the_fast_path(cls: type[EmailMessage]) -> None:
    message = cls("Hello", "body\n", "a@example.org", ["b@example.org"])
    mime = built(message)
    assert fast_as_bytes(mime) is not None, "made without the stdlib's generator"
    assert fast_message_bytes(message, mime) == djangos_bytes(copy.deepcopy(mime))


def test_a_subclass_keeps_djangos_path() -> None:
    message = Customised("Hello", "body\n", "a@example.org", ["b@example.org"])
    assert fast_message_bytes(message, built(message)) is None


@pytest.mark.skipif(not _takes_policy(EmailMessage), reason="message(policy=) is Django 6+")
@settings(max_examples=60, deadline=None)
@given(
    subject=text.map(lambda s: s.replace("\n", " ").replace("\r", " ")),
    body=text,
    to=st.lists(mailbox, min_size=1, max_size=3),
    cc=st.lists(mailbox, max_size=2),
    html=st.none() | text,
)
def test_django_builds_the_same_message_with_the_building_policy(
    subject: str, body: str, to: list[str], cc: list[str], html: str | None
) -> None:
    fixed = {"Date": "Mon, 1 Jan 2024 00:00:00 +0000", "Message-ID": "<fixed@example.org>"}
    message = EmailMultiAlternatives(subject, body, "a@example.org", to, cc=cc, headers=fixed)
    if html is not None:
        message.attach_alternative(html, "text/html")
    policy = building_policy(message, email.policy.SMTP)
    assert policy is not email.policy.SMTP

    def flat(policy: Any) -> bytes:
        random.seed(7)
        return bytes(message.message(policy=policy).as_bytes())

    assert outcome(lambda: flat(policy)) == outcome(lambda: flat(email.policy.SMTP))
    assert (
        building_policy(Customised("s", "b", "a@example.org", ["b@example.org"]), email.policy.SMTP)
        is email.policy.SMTP
    )
