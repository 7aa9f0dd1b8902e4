"""TLS (STARTTLS, implicit), certificate verification, and logging in, from MAIL_* keys."""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme

from flask_smtp_backend import Mail, Message
from smtp_backend import SMTPAuthenticationError
from tests.conftest import SMTPServerFactory
from tests.flask.conftest import MailFactory
from tests.servers import AUTH_PASSWORD, AUTH_USER, OAUTH_TOKEN, RecordingSMTPServer


@pytest.fixture
def ca_file(tls_ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


def send_one(mail: Mail) -> None:
    with mail.app.app_context():
        mail.send(Message("secure", recipients=["to@example.test"], body="b"))


def test_starttls_with_the_configured_ca(
    make_mail: MailFactory, starttls_server: RecordingSMTPServer, ca_file: str
) -> None:
    send_one(make_mail(starttls_server, MAIL_USE_TLS=True, MAIL_CA_FILE=ca_file))
    [received] = starttls_server.messages
    assert received.tls
    assert "STARTTLS" in starttls_server.verbs()


def test_implicit_tls_with_the_configured_ca(
    make_mail: MailFactory, smtps_server: RecordingSMTPServer, ca_file: str
) -> None:
    send_one(make_mail(smtps_server, MAIL_USE_SSL=True, MAIL_CA_FILE=ca_file))
    assert [m.tls for m in smtps_server.messages] == [True]


def test_an_unknown_certificate_is_refused_by_default(
    make_mail: MailFactory, starttls_server: RecordingSMTPServer
) -> None:
    """Flask-Mail (smtplib's starttls()) would accept any certificate here."""
    with pytest.raises(ssl.SSLCertVerificationError):
        send_one(make_mail(starttls_server, MAIL_USE_TLS=True))
    assert starttls_server.messages == []


def test_verification_can_be_turned_off(
    make_mail: MailFactory, smtps_server: RecordingSMTPServer
) -> None:
    send_one(make_mail(smtps_server, MAIL_USE_SSL=True, MAIL_VERIFY_TLS=False))
    assert [m.tls for m in smtps_server.messages] == [True]


def test_login_with_username_and_password(
    make_mail: MailFactory, auth_server: RecordingSMTPServer
) -> None:
    send_one(make_mail(auth_server, MAIL_USERNAME=AUTH_USER, MAIL_PASSWORD=AUTH_PASSWORD))
    assert [m.login for m in auth_server.messages] == [AUTH_USER.encode()]


def test_a_wrong_password_raises(make_mail: MailFactory, auth_server: RecordingSMTPServer) -> None:
    with pytest.raises(SMTPAuthenticationError):
        send_one(make_mail(auth_server, MAIL_USERNAME=AUTH_USER, MAIL_PASSWORD="wrong"))
    assert auth_server.messages == []


def test_login_with_an_oauth_token(
    make_mail: MailFactory, auth_server: RecordingSMTPServer
) -> None:
    send_one(make_mail(auth_server, MAIL_USERNAME=AUTH_USER, MAIL_OAUTH_TOKEN=OAUTH_TOKEN))
    assert [m.login for m in auth_server.messages] == [AUTH_USER.encode()]
    assert "AUTH" in auth_server.verbs()


def test_starttls_and_login_together(
    make_mail: MailFactory, smtp_server_factory: SMTPServerFactory, ca_file: str
) -> None:
    server = smtp_server_factory(tls="starttls", require_starttls=True, auth=True)
    config = {"MAIL_USE_TLS": True, "MAIL_CA_FILE": ca_file}
    send_one(make_mail(server, MAIL_USERNAME=AUTH_USER, MAIL_PASSWORD=AUTH_PASSWORD, **config))
    [received] = server.messages
    assert received.tls and received.login == AUTH_USER.encode()


def test_mail_url_configures_the_connection(
    make_mail: MailFactory, auth_server: RecordingSMTPServer
) -> None:
    url = f"smtp://{quote(AUTH_USER)}:{quote(AUTH_PASSWORD)}@{auth_server.host}:{auth_server.port}"
    mail = make_mail(None, MAIL_URL=url, MAIL_SUPPRESS_SEND=False, MAIL_POOL_SIZE=2)
    send_one(mail)
    assert [m.login for m in auth_server.messages] == [AUTH_USER.encode()]


def test_a_missing_ca_file_is_named_when_the_app_is_set_up(
    make_mail: MailFactory, tmp_path: Path
) -> None:
    missing = tmp_path / "ca.pem"
    with pytest.raises(ValueError, match=f"MAIL_CA_FILE: no such file: {missing}"):
        make_mail(MAIL_CA_FILE=str(missing))
