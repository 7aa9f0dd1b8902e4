"""The pytest plugin as a user meets it: their test files, run by pytest with the plugin."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs load the plugin with -p, as its entry point would, and no other."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def run_user_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write ``source`` as a user's test module and run it with the plugin loaded; with
    ``subprocess=True`` in a fresh interpreter (one that has configured nothing yet)."""
    # a subprocess imports this checkout's packages, whatever is installed
    paths = [str(REPO), str(REPO / "integrations"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))

    def run(
        source: str, *, conftest: str | None = None, passed: int = 1, subprocess: bool = False
    ) -> pytest.RunResult:
        if conftest is not None:
            pytester.makeconftest(conftest)
        pytester.makepyfile(test_user=source)
        options = ("-p", "smtp_backend.testing", "-p", "no:cacheprovider")
        if subprocess:
            result = pytester.runpytest_subprocess(*options)
        else:
            result = pytester.runpytest_inprocess(*options)
        result.assert_outcomes(passed=passed)
        return result

    return run


def test_smtp_server_receives_what_a_users_code_sends(run_user_tests) -> None:  # type: ignore[no-untyped-def]
    run_user_tests(
        """
        import smtplib
        from email.message import EmailMessage

        def send_welcome(host, port, to):
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "app@example.test", to, "Welcome"
            message.set_content("Hello!")
            with smtplib.SMTP(host, port) as smtp:
                smtp.send_message(message, to_addrs=[to, "audit@example.test"])

        def test_welcome(smtp_server):
            send_welcome(smtp_server.host, smtp_server.port, "new@example.test")
            [message] = smtp_server.messages
            assert message.sender == "app@example.test"
            assert message.recipients == ("new@example.test", "audit@example.test")
            assert message.subject == "Welcome"
            assert message.text.strip() == "Hello!"
            assert message.data.startswith(b"From: app@example.test\\r\\n")
            assert smtp_server.web_url is None
        """
    )


def test_marker_options_tls_and_auth(run_user_tests) -> None:  # type: ignore[no-untyped-def]
    run_user_tests(
        """
        import ssl
        import pytest
        from email.message import EmailMessage
        import smtp_backend

        def message():
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = "a@example.test", "b@example.test", "secure"
            m.set_content("x")
            return m

        @pytest.mark.smtp_server(tls=True, auth=("user", "pa ss"))
        def test_tls_auth(smtp_server):
            assert smtp_server.url.startswith("smtp+starttls://user:pa%20ss@127.0.0.1:")
            with smtp_server.mailer() as mailer:
                [result] = mailer.send(message())
            assert result.ok
            [received] = smtp_server.messages
            assert received.tls and received.subject == "secure"

        @pytest.mark.smtp_server(tls=True)
        def test_certificate_is_verified(smtp_server):
            with smtp_backend.SMTP(smtp_server.host, smtp_server.port) as smtp:
                with pytest.raises(ssl.SSLCertVerificationError):
                    smtp.starttls()  # the system trust store does not know the test CA

        @pytest.mark.smtp_server(auth=("user", "secret"))
        def test_auth_required(smtp_server):
            with smtp_backend.SMTP(smtp_server.host, smtp_server.port) as smtp:
                with pytest.raises(smtp_backend.SMTPSenderRefused):
                    smtp.send_message(message())
            assert smtp_server.messages == []

        @pytest.mark.smtp_server(chunking=False)
        def test_extensions(smtp_server):
            with smtp_backend.SMTP(smtp_server.host, smtp_server.port) as smtp:
                smtp.ehlo()
                assert not smtp.has_extn("chunking") and smtp.has_extn("pipelining")
        """,
        passed=4,
    )


def test_factory_starts_independent_servers_and_stops_them(
    run_user_tests,
    pytester: pytest.Pytester,  # type: ignore[no-untyped-def]
) -> None:
    ports = pytester.path / "ports.txt"
    run_user_tests(
        f"""
        import smtplib

        def test_two(smtp_server_factory):
            first, second = smtp_server_factory(), smtp_server_factory(size_limit=100)
            with smtplib.SMTP(second.host, second.port) as smtp:
                smtp.sendmail("a@example.test", ["b@example.test"], "Subject: x\\r\\n\\r\\nshort")
            assert first.messages == [] and len(second.messages) == 1
            open({str(ports)!r}, "w").write(f"{{first.port}} {{second.port}}")
        """
    )
    for port in ports.read_text().split():
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", int(port)))


def test_smtp_outbox_captures_every_mailer(run_user_tests) -> None:  # type: ignore[no-untyped-def]
    run_user_tests(
        """
        import asyncio
        from email.message import EmailMessage
        from smtp_backend import AsyncMailer, Mailer

        MAILER = Mailer("mail.invalid", security="none")  # the application's, made at import

        def notify(to):
            m = EmailMessage()
            m["From"], m["To"], m["Bcc"], m["Subject"] = "app@example.test", to, "log@example.test", "Hi"
            m.set_content("hello")
            return MAILER.send(m)

        def test_outbox(smtp_outbox):
            [result] = notify("user@example.test")
            assert result.ok
            [captured] = smtp_outbox
            assert captured.recipients == ("user@example.test", "log@example.test")
            assert captured.as_message()["Subject"] == "Hi"
            assert b"Bcc" not in captured.data

        def test_async_outbox(smtp_outbox):
            async def send():
                m = EmailMessage()
                m["From"], m["To"] = "a@example.test", "b@example.test"
                async with AsyncMailer("mail.invalid", security="none") as mailer:
                    return await mailer.send(m)
            [result] = asyncio.run(send())
            assert result.ok and [c.recipients for c in smtp_outbox] == [("b@example.test",)]

        def test_without_the_fixture_nothing_is_captured():
            assert MAILER.outbox is None
        """,
        passed=3,
    )


def test_a_projects_conftest_fixtures_take_precedence(run_user_tests) -> None:  # type: ignore[no-untyped-def]
    run_user_tests(
        """
        def test_mine(smtp_server, smtp_server_factory):
            assert smtp_server == "project server"
            assert smtp_server_factory == "project factory"
        """,
        conftest="""
        import pytest

        @pytest.fixture
        def smtp_server_factory():
            return "project factory"

        @pytest.fixture
        def smtp_server():
            return "project server"
        """,
    )


def test_marker_is_registered_and_takes_keywords_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.smtp_server(True)
        def test_positional(smtp_server):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "smtp_backend.testing", "--strict-markers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*keyword options only*"])


def test_smtp_outbox_captures_open_too(run_user_tests) -> None:  # type: ignore[no-untyped-def]
    """``Mailer.open()`` (Django's ``with get_connection():``) connects nowhere under capture."""
    with socket.socket() as unused:  # a port nobody listens on: a real open() is refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    run_user_tests(
        f"""
        import asyncio
        import pytest
        from email.message import EmailMessage
        from smtp_backend import AsyncMailer, Mailer

        def message():
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = "a@example.test", "b@example.test", "opened"
            return m

        def test_open_then_send(smtp_outbox):
            with Mailer("127.0.0.1", {port}, security="none") as mailer:
                mailer.open()
                [result] = mailer.send(message())
            assert result.ok and [c.as_message()["Subject"] for c in smtp_outbox] == ["opened"]

        def test_async_open(smtp_outbox):
            async def run():
                async with AsyncMailer("127.0.0.1", {port}, security="none") as mailer:
                    await mailer.open()
            asyncio.run(run())

        def test_without_the_fixture_open_connects():
            with Mailer("127.0.0.1", {port}, security="none") as mailer:
                with pytest.raises(OSError):
                    mailer.open()
        """,
        passed=3,
    )


def test_tls_server_exposes_its_ca_file_and_a_url_that_carries_it(run_user_tests) -> None:  # type: ignore[no-untyped-def]
    run_user_tests(
        """
        import urllib.parse
        import pytest
        from email.message import EmailMessage
        from smtp_backend import Mailer

        @pytest.mark.smtp_server(tls=True)
        def test_verified(smtp_server):
            assert smtp_server.ca_file.name == "ca.pem"
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(smtp_server.url).query)
            assert query == {"ca_file": [str(smtp_server.ca_file)]}
            m = EmailMessage()
            m["From"], m["To"], m["Subject"] = "a@example.test", "b@example.test", "verified"
            with Mailer.from_url(smtp_server.url) as mailer:  # what an app's settings would hold
                [result] = mailer.send(m)
            assert result.ok and smtp_server.messages[0].tls
        """
    )


def test_without_the_dev_extra_the_error_says_what_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the subprocess imports this checkout's smtp_backend, whatever is installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest(
        """
        import sys
        sys.modules["aiosmtpd"] = None  # as if the dev extra were not installed
        sys.modules["aiosmtpd.smtp"] = None
        """
    )
    pytester.makepyfile(
        """
        def test_needs_a_server(smtp_server):
            pass
        """
    )
    # a fresh process: this one has imported the dev server already
    result = pytester.runpytest_subprocess("-p", "smtp_backend.testing", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*need the 'dev' extra (aiosmtpd and trustme): pip install 'smtp-backend?dev?'"]
    )
    result.stdout.no_fnmatch_line("*None is missing*")


def test_smtp_outbox_and_djangos_mail_outbox_are_two_views_of_one_capture(
    run_user_tests,  # type: ignore[no-untyped-def]
) -> None:
    with socket.socket() as unused:  # a port nobody listens on: any real connection fails
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    run_user_tests(
        """
        from django.core import mail

        def test_with_get_connection(smtp_outbox):
            mail.outbox = []
            with mail.get_connection() as connection:  # opens: must not connect
                sent = connection.send_messages(
                    [mail.EmailMessage("Hi", "body", "a@example.test", ["b@example.test"])]
                )
            mail.send_mail("Second", "body", "a@example.test", ["c@example.test"])
            assert sent == 1
            assert [m.subject for m in mail.outbox] == ["Hi", "Second"]
            assert [c.recipients for c in smtp_outbox] == [("b@example.test",), ("c@example.test",)]
            assert mail.outbox[0].captured is smtp_outbox[0]  # the same record, seen twice
        """,
        conftest=f"""
        import django
        from django.conf import settings

        settings.configure(
            EMAIL_BACKEND="django_smtp_backend.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT={port},
        )
        django.setup()
        """,
        subprocess=True,  # Django's settings are configured once per process
    )
