"""No password ever appears in an error, a repr or a log line, whatever the mailer URL:
unescaped '#', '/', '?', '@' and ':' in a password included."""

from __future__ import annotations

import asyncio
import logging
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_backend import AsyncMailer, Mailer
from smtp_backend.mailer.urls import parse_mailer_url, redact_url

PASSWORD = "Tr0ub4dor#3x"
# Each delimiter a password may hold unescaped, in each position that confuses a parser.
LEAKY = [
    "Tr0ub4dor#3x",
    "pass/word99",
    "pass?word99",
    "pa@ss#word99",
    "secret:42/x",
    "99999/x?y#z",
    "a#b?c/d@e:f",
]
FORMS = [
    "smtp+starttls://alice:{}@mail.example.test:587",
    "smtps://alice:{}@mail.example.test",
    "smtp://alice:{}@mail.example.test:25?pool_size=2",
    "smtp+starttls://alice:{}@mail.example.test:587?bogus=1",
    "lmtp://alice:{}@/var/run/lmtp.sock",
    "smtp:alice:{}@mail.example.test",
]


def outcome_text(url: str) -> str:
    """The error's text, or the repr of what was built."""
    try:
        return repr(parse_mailer_url(url).get("host")) + repr(Mailer.from_url(url))
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("password", LEAKY)
def test_no_url_shows_its_password(form: str, password: str) -> None:
    url = form.format(password)
    assert password not in outcome_text(url)
    assert password not in redact_url(url)


def test_an_unescaped_delimiter_in_the_password_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="percent-encoded") as raised:
        Mailer.from_url(f"smtp+starttls://alice:{PASSWORD}@host:587")
    assert PASSWORD not in str(raised.value)
    assert "alice:***@host:587" in str(raised.value)
    escaped = Mailer.from_url("smtp+starttls://alice:Tr0ub4dor%233x@host:587")
    assert escaped.settings.password == PASSWORD
    assert PASSWORD not in repr(escaped) and PASSWORD not in repr(escaped.settings)


def test_async_mailer_from_url_shows_no_password() -> None:
    async def build() -> None:
        AsyncMailer.from_url(f"smtp+starttls://alice:{PASSWORD}@host:587")

    with pytest.raises(ValueError) as raised:
        asyncio.run(build())
    assert PASSWORD not in str(raised.value)


def test_building_a_mailer_logs_no_password(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        mailer = Mailer.from_url(
            "smtps://alice:s3cr3t-pw@host?dangerously_skip_tls_verify=true&pool_size=1"
        )
        mailer.close()
    assert "s3cr3t-pw" not in caplog.text and "s3cr3t-pw" not in repr(mailer)


# A marker no message holds by chance, around any mix of URL delimiters.
SECRET = st.text(alphabet=string.ascii_letters + string.digits + "#/?@:!$&'()*+,;=[]~-._").map(
    lambda text: f"Zq{text}9X"
)


@settings(max_examples=300, deadline=None)
@given(password=SECRET, form=st.sampled_from(FORMS))
def test_no_password_shows_whatever_the_url(password: str, form: str) -> None:
    assert password not in outcome_text(form.format(password))


def test_celery_worker_settings_show_no_password() -> None:
    pytest.importorskip("celery")
    from smtp_backend.celery.worker import WorkerSettings

    shown = repr(WorkerSettings(url=f"smtp://a:{PASSWORD}@h", redis_url="redis://:Zpw9@r:6379"))
    assert PASSWORD not in shown and "Zpw9" not in shown
