"""Configuration, test mode (outbox), app factories, contexts, threads, CLI, async, debug."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from flask import Flask

from flask_smtp_backend import Mail, MailState, Message, email_dispatched
from flask_smtp_backend.mailer_setup import sending_mailer
from tests.conftest import SMTPServerFactory
from tests.flask.conftest import MailFactory
from tests.servers import RecordingSMTPServer


def message(n: int = 0) -> Message:
    return Message(f"message {n}", recipients=[f"to{n}@example.test"], body="b")


def test_flask_mail_defaults_in_app_extensions() -> None:
    app = Flask("defaults")
    Mail(app)
    state = app.extensions["mail"]
    assert isinstance(state, MailState)
    assert (state.server, state.port, state.username, state.password) == (
        "127.0.0.1",
        25,
        None,
        None,
    )
    assert (state.use_tls, state.use_ssl, state.default_sender) == (False, False, None)
    assert (state.debug, state.max_emails, state.ascii_attachments) == (0, None, False)
    assert state.suppress is False  # app.testing is False


def test_suppress_and_debug_follow_the_app() -> None:
    app = Flask("testing")
    app.config.update(TESTING=True, DEBUG=True)
    mail = Mail(app)
    assert mail.suppress is True and mail.debug == 1  # read through to the state


def test_suppressed_mail_goes_to_the_outbox_not_the_server(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server, MAIL_SUPPRESS_SEND=True)
    dispatched: list[Message] = []

    def on_dispatch(app: Flask, message: Message) -> None:
        dispatched.append(message)

    with mail.app.app_context(), email_dispatched.connected_to(on_dispatch):
        first, second = message(0), message(1)
        with mail.record_messages() as recorded:
            mail.send(first)
            with mail.connect() as connection:
                connection.send(second)
        assert mail.outbox == [first, second]
        assert recorded == [first, second] == dispatched
        assert mail.outbox[0].subject == "message 0"
        mail.outbox.clear()
        mail.send_message(subject="again", recipients=["x@example.test"], body="b")
        assert [m.subject for m in mail.outbox] == ["again"]
        results = mail.send_many([message(2)])
        assert [r.ok for r in results] == [True]
    assert smtp_server.connections == 0


def test_suppression_can_be_switched_at_run_time(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server)
    with mail.app.app_context():
        mail.app.extensions["mail"].suppress = True
        mail.send(message(0))
        mail.app.extensions["mail"].suppress = False
        mail.send(message(1))
    assert [m.subject for m in mail.outbox] == ["message 0"]
    assert [m.rcpt_tos for m in smtp_server.messages] == [("to1@example.test",)]


def test_app_factory_pattern_serves_each_app_its_own_settings(
    smtp_server_factory: SMTPServerFactory,
) -> None:
    servers = [smtp_server_factory(), smtp_server_factory()]
    mail = Mail()

    def create_app(server: RecordingSMTPServer) -> Flask:
        app = Flask(f"factory_{server.port}")
        app.config.update(
            MAIL_SERVER=server.host, MAIL_PORT=server.port, MAIL_DEFAULT_SENDER="f@example.test"
        )
        mail.init_app(app)
        return app

    apps = [create_app(server) for server in servers]
    try:
        for n, app in enumerate(apps):
            with app.app_context():
                assert mail.port == servers[n].port
                mail.send(message(n))
        assert [[m.rcpt_tos for m in s.messages] for s in servers] == [
            [("to0@example.test",)],
            [("to1@example.test",)],
        ]
    finally:
        for app in apps:
            app.extensions["mail"].close()


def test_an_unbound_mail_needs_an_app_context() -> None:
    mail = Mail()
    with pytest.raises(RuntimeError, match="application context"):
        mail.send(Message("s", sender="a@example.test", recipients=["b@example.test"]))
    with pytest.raises(RuntimeError, match="application context"):
        _ = mail.outbox
    assert mail.server is None  # no state to read: None, as Flask-Mail's Mail.__getattr__


def test_an_app_without_the_extension_is_reported() -> None:
    mail, app = Mail(), Flask("not_configured")
    with app.app_context(), pytest.raises(RuntimeError, match="init_app"):
        mail.send(Message("s", sender="a@example.test", recipients=["b@example.test"]))


def test_background_thread_with_an_app_context(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with mail.app.app_context():
                mail.send(message(n))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(
        f"to{n}@example.test" for n in range(6)
    )


def test_cli_command(make_mail: MailFactory, smtp_server: RecordingSMTPServer) -> None:
    mail = make_mail(smtp_server)

    @mail.app.cli.command("digest")
    def digest() -> None:
        with mail.connect() as connection:
            for n in range(3):
                connection.send(message(n))

    result = mail.app.test_cli_runner().invoke(args=["digest"])
    assert result.exit_code == 0, result.output
    assert len(smtp_server.messages) == 3


def test_send_async_from_an_async_view(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer
) -> None:
    mail = make_mail(smtp_server)

    @mail.app.post("/welcome")
    async def welcome() -> str:
        await mail.send_async(message(7))
        return "ok"

    assert mail.app.test_client().post("/welcome").text == "ok"
    assert [m.rcpt_tos for m in smtp_server.messages] == [("to7@example.test",)]


def test_send_async_concurrently_with_an_unbound_mail(smtp_server: RecordingSMTPServer) -> None:
    app = Flask("async_factory")
    app.config.update(
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
        MAIL_DEFAULT_SENDER="async@example.test",
    )
    mail = Mail()
    mail.init_app(app)

    async def main() -> None:
        with app.app_context():
            await asyncio.gather(*(mail.send_async(message(n)) for n in range(3)))

    try:
        asyncio.run(main())
    finally:
        app.extensions["mail"].close()
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        f"to{n}@example.test" for n in range(3)
    ]
    assert {m.mail_from for m in smtp_server.messages} == {"async@example.test"}


def test_mail_debug_prints_the_conversation(
    make_mail: MailFactory,
    smtp_server: RecordingSMTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mail = make_mail(smtp_server, MAIL_DEBUG=1)
    with mail.app.app_context():
        mail.send(message())
    err = capsys.readouterr().err
    assert "EHLO" in err.upper() and "MAIL FROM:<SENDER@EXAMPLE.TEST>" in err.upper()
    quiet = make_mail(smtp_server, MAIL_DEBUG=0)
    with quiet.app.app_context():
        quiet.send(message())
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("config", "allowed"), [({}, False), ({"MAIL_ALLOW_INSECURE_AUTH": 1}, True)]
)
def test_mail_allow_insecure_auth_reaches_the_mailer(
    make_mail: MailFactory, smtp_server: RecordingSMTPServer, config: dict[str, Any], allowed: bool
) -> None:
    mail = make_mail(smtp_server, **config)
    assert mail.state is not None
    assert sending_mailer(mail.state).settings.allow_insecure_auth is allowed
