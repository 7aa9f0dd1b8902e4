"""The pytest plugin as a user meets it: their test files, run by pytest with the plugin."""

from __future__ import annotations

import socket

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs load the plugin with -p, as its entry point would, and no other."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def run_user_tests(pytester: pytest.Pytester):  # type: ignore[no-untyped-def]
    """Write ``source`` as a user's test module and run it with the plugin loaded."""

    def run(source: str, *, conftest: str | None = None, passed: int = 1) -> pytest.RunResult:
        if conftest is not None:
            pytester.makeconftest(conftest)
        pytester.makepyfile(test_user=source)
        result = pytester.runpytest_inprocess(
            "-p", "smtp_backend.testing", "-p", "no:cacheprovider"
        )
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
