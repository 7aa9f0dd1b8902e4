"""Mailer URLs -> keyword arguments, table-driven; bad URLs rejected with a clear message."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from smtp_backend import DEFAULT_TIMEOUTS, Timeouts
from smtp_backend.mailer import Mailer
from smtp_backend.mailer.urls import parse_mailer_url, redact_url

GOOD: list[tuple[str, dict[str, Any]]] = [
    (
        "smtp://mail.example.com",
        {"protocol": "smtp", "security": "none", "host": "mail.example.com"},
    ),
    (
        "smtp+starttls://user:pass@host:587?pool_size=4",
        {
            "protocol": "smtp",
            "security": "starttls",
            "host": "host",
            "port": 587,
            "username": "user",
            "password": "pass",
            "pool_size": 4,
        },
    ),
    (
        "smtps://me%40example.com:p%40ss%3Aw%2Fd@smtp.example.com",
        {
            "protocol": "smtp",
            "security": "tls",
            "host": "smtp.example.com",
            "username": "me@example.com",
            "password": "p@ss:w/d",
        },
    ),
    ("smtp://[::1]:2525/", {"protocol": "smtp", "security": "none", "host": "::1", "port": 2525}),
    (
        "lmtp://localhost:24",
        {"protocol": "lmtp", "security": "none", "host": "localhost", "port": 24},
    ),
    (
        "lmtp:///var/run/lmtp.sock",
        {"protocol": "lmtp", "security": "none", "host": "/var/run/lmtp.sock"},
    ),
    (
        "smtp+unix:///run/smtp.sock",
        {"protocol": "smtp", "security": "none", "host": "/run/smtp.sock"},
    ),
    (
        "smtp://h?timeout=2.5&idle_timeout=10&pipelining=false&rate_limit=5"
        "&max_messages_per_connection=50&retries=2&local_hostname=client.example",
        {
            "protocol": "smtp",
            "security": "none",
            "host": "h",
            "timeout": 2.5,
            "idle_timeout": 10.0,
            "pipelining": False,
            "rate_limit": 5.0,
            "max_messages_per_connection": 50,
            "retries": 2,
            "local_hostname": "client.example",
        },
    ),
    (
        "smtp+starttls-opportunistic://h",
        {"protocol": "smtp", "security": "starttls-opportunistic", "host": "h"},
    ),
    (
        "smtps://h?ca_file=%2Fetc%2Fca.pem&allow_insecure_auth=yes",
        {
            "protocol": "smtp",
            "security": "tls",
            "host": "h",
            "ca_file": "/etc/ca.pem",
            "allow_insecure_auth": True,
        },
    ),
    (
        "smtp+starttls://h?dangerously_skip_tls_verify=true",
        {
            "protocol": "smtp",
            "security": "starttls",
            "host": "h",
            "dangerously_skip_tls_verify": True,
        },
    ),
    (
        "smtp://h?timeout_connect=2&timeout_data_final=90&timeout_total=none",
        {
            "protocol": "smtp",
            "security": "none",
            "host": "h",
            "timeouts": Timeouts(connect=2.0, data_final=90.0, total=None),
        },
    ),
    (
        "smtp://h?timeout=5&timeout_command=1.5",
        {
            "protocol": "smtp",
            "security": "none",
            "host": "h",
            "timeout": 5.0,
            "timeouts": Timeouts(5.0, 5.0, 1.5, 5.0, 5.0, total=300.0),
        },
    ),
    (
        "SMTP+STARTTLS://user:@h",
        {
            "protocol": "smtp",
            "security": "starttls",
            "host": "h",
            "username": "user",
            "password": "",
        },
    ),
]

BAD: list[tuple[str, str]] = [
    ("http://host", "unknown scheme"),
    ("host:25", "unknown scheme"),
    ("smtp://", "no host"),
    ("smtp://host/path", "unexpected path"),
    ("smtp://host:notaport", "invalid mailer URL"),
    ("smtp://host:99999", "invalid mailer URL"),
    ("smtp://host?poolsize=4", "unknown option 'poolsize'"),
    ("smtp://host?pool_size=4&pool_size=5", "given twice"),
    ("smtp://host?pool_size=0", "bad value '0' for 'pool_size'"),
    ("smtp://host?pool_size=four", "bad value 'four'"),
    ("smtp://host?timeout=-1", "bad value '-1' for 'timeout'"),
    ("smtp://host?pipelining=maybe", "bad value 'maybe'"),
    ("smtp://host?pool_size", "malformed query"),
    ("smtp://host?pool_size=", "bad value '' for 'pool_size'"),
    ("smtp://host#frag", "fragment"),
    ("lmtp://host/var/run/lmtp.sock", "unexpected path"),
    ("smtp+unix://host/run/smtp.sock", "no host or port"),
    ("smtp+unix:///", "no Unix socket path"),
    ("smtp://:pw@host", "empty user name"),
    ("smtp://host?timeout_connect=0", "bad value '0' for 'timeout_connect'"),
    ("smtp://host?timeout_total=inf", "bad value 'inf' for 'timeout_total'"),
    ("smtp://host?timeout_data=5", "unknown option 'timeout_data'"),
    ("smtp://host?ca_file=", "bad value '' for 'ca_file'"),
    ("smtp://host?allow_insecure_auth=perhaps", "bad value 'perhaps'"),
    ("smtp+opportunistic://host", "unknown scheme"),
]


@pytest.mark.parametrize(("url", "expected"), GOOD)
def test_good_urls(url: str, expected: dict[str, Any]) -> None:
    assert parse_mailer_url(url) == expected


@pytest.mark.parametrize(("url", "message"), BAD)
def test_bad_urls_are_rejected_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mailer_url(url)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ValueError) as caught:
        parse_mailer_url("smtps://user:s3cret@host?bogus=1")
    assert "s3cret" not in str(caught.value)
    assert "user:***@host" in str(caught.value)
    assert redact_url("smtp://u:p%40ss@h:25") == "smtp://u:***@h:25"


def test_from_url_builds_a_configured_mailer() -> None:
    mailer = Mailer.from_url("smtp+starttls://user:pass@mail.example.com?pool_size=2")
    assert mailer.settings.host == "mail.example.com"
    assert mailer.settings.port == 587  # the submission port is the STARTTLS default
    assert mailer.settings.security == "starttls"
    assert mailer.settings.username == "user" and mailer.settings.password == "pass"
    assert "pass" not in repr(mailer) and "pass" not in repr(mailer.settings)
    assert Mailer.from_url("smtps://h").settings.port == 465
    assert Mailer.from_url("smtp://h").settings.port == 25


def test_from_url_options_reach_the_connections() -> None:
    mailer = Mailer.from_url(
        "smtp+starttls-opportunistic://h?allow_insecure_auth=1&timeout_greeting=7"
        "&dangerously_skip_tls_verify=1"
    )
    settings = mailer.settings
    assert settings.security == "starttls-opportunistic" and settings.port == 25
    assert settings.allow_insecure_auth is True
    assert settings.phase_timeouts.greeting == 7.0
    assert settings.ssl_context is not None and settings.ssl_context.check_hostname is False


def test_from_url_rejects_an_option_given_twice() -> None:
    with pytest.raises(ValueError, match="pool_size given both"):
        Mailer.from_url("smtp://h?pool_size=2", pool_size=3)


def test_a_password_without_a_user_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs a username"):
        Mailer(password="secret")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, DEFAULT_TIMEOUTS),  # the one default table
        ({"timeout": 4.0}, Timeouts.every(4.0, total=DEFAULT_TIMEOUTS.total)),
        ({"timeouts": Timeouts(command=2.0)}, Timeouts(command=2.0)),
    ],
)
def test_a_mailer_uses_the_default_table_unless_told_otherwise(
    arguments: dict[str, object], expected: Timeouts
) -> None:
    mailer = Mailer("h", security="none", **arguments)  # type: ignore[arg-type]
    assert mailer.settings.phase_timeouts == expected


def test_a_timeout_key_in_a_url_changes_that_phase_only() -> None:
    settings = Mailer.from_url("smtp://h?timeout_connect=2").settings
    assert settings.phase_timeouts == dataclasses.replace(DEFAULT_TIMEOUTS, connect=2.0)
