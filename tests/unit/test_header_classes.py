"""shared_header_classes: the same message as under the policy it is made from."""

from __future__ import annotations

import email.policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_backend import shared_header_classes

NAMES = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "X-Tag", "MIME-Version"]
VALUES = st.one_of(
    st.text(max_size=60).filter(lambda v: "\r" not in v and "\n" not in v),
    st.sampled_from(
        [
            "Bob <bob@example.org>, a@example.org",
            '"Last, First" <lf@example.org>',
            "Zoë <zoë@exämple.org>",
            "Mon, 1 Jan 2024 00:00:00 +0000",
            "<id@example.org>",
            "=?utf-8?q?caf=C3=A9?=",
            "1.0",
        ]
    ),
)
POLICIES = [email.policy.SMTP, email.policy.SMTPUTF8, email.policy.default]


def build(policy: Any, headers: list[tuple[str, str]], body: str) -> EmailMessage:
    msg = EmailMessage(policy=policy)
    for name, value in headers:
        try:
            msg[name] = value
        except Exception:  # the stdlib's parser refuses (or trips on) some values
            continue  # the same ones under both policies: the headers are compared below
    msg.set_content(body)
    return msg


@settings(max_examples=200, deadline=None)
@given(
    policy=st.sampled_from(POLICIES),
    headers=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=6),
    body=st.text(max_size=80),
)
def test_a_message_built_under_it_is_the_same_message(
    policy: Any, headers: list[tuple[str, str]], body: str
) -> None:
    plain = build(policy, headers, body)
    shared = build(shared_header_classes(policy), headers, body)
    for (name, ours), (_, theirs) in zip(shared.raw_items(), plain.raw_items(), strict=True):
        assert (str(ours), type(ours).__bases__) == (str(theirs), type(theirs).__bases__), name
        assert [str(d) for d in ours.defects] == [str(d) for d in theirs.defects]
    try:
        expected: bytes | type[Exception] = plain.as_bytes(policy=policy)
    except Exception as exc:
        expected = type(exc)
    try:
        actual: bytes | type[Exception] = shared.as_bytes()
    except Exception as exc:
        actual = type(exc)
    assert actual == expected


def test_each_kind_of_header_has_one_class() -> None:
    policy = shared_header_classes(email.policy.SMTP)
    first, second = EmailMessage(policy=policy), EmailMessage(policy=policy)
    first["Subject"], second["Subject"] = "one", "two"
    first["To"], second["To"] = "a@example.org", "b@example.org"
    assert type(first["Subject"]) is type(second["Subject"])
    assert type(first["To"]) is not type(first["Subject"])
    assert shared_header_classes(email.policy.SMTP) is policy  # made once per policy


@pytest.mark.parametrize(
    "policy",
    [email.policy.compat32, email.policy.SMTP.clone(header_factory=HeaderRegistry().__call__)],
)
def test_a_policy_it_cannot_share_is_returned_as_it_is(policy: Any) -> None:
    assert shared_header_classes(policy) is policy
