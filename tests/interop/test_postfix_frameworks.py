"""The Django and Flask integrations against Postfix: STARTTLS, AUTH, exact bytes."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.interop.conftest import Arrived, as_stored
from tests.mta.fixture import AddressFactory
from tests.mta.postfix import HOSTNAME, SASL_PASSWORD, SASL_USER, PostfixInstance

pytestmark = pytest.mark.timeout(60)

AUTHENTICATED = f"(Authenticated sender: {SASL_USER}@{HOSTNAME})".encode()

# A plain checkout: the framework packages live under integrations/.
if importlib.util.find_spec("django_smtp_backend") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integrations"))


@pytest.fixture
def ca_file(tmp_path: Path, tls_ca: trustme.CA) -> str:
    path = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


def assert_arrived_over_tls_with_auth(arrived: Arrived, recipient: str, wire: bytes) -> None:
    delivered = arrived(recipient)
    assert delivered.message == as_stored(wire)
    assert AUTHENTICATED in delivered.added_headers[b"received"]
    assert b"using TLS" in delivered.added_headers[b"received"]


@pytest.fixture
def django_backend_module() -> Iterator[object]:
    pytest.importorskip("django")
    import django

    # The same settings tests/django uses, whichever folder is collected first.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.settings")
    django.setup()
    import django_smtp_backend

    yield django_smtp_backend
    django_smtp_backend.close_shared_mailers()


def test_django_backend_sends_through_postfix(
    django_backend_module: object,
    postfix: PostfixInstance,
    ca_file: str,
    address: AddressFactory,
    arrived: Arrived,
) -> None:
    from django.core.mail import EmailMessage

    from django_smtp_backend import EmailBackend

    to, bcc = address("django-to"), address("django-bcc")
    message = EmailMessage(
        "Grüße from Django",
        "Hello\n.leading dot\nünïcödé\n",
        "webmaster@sender.test",
        [to],
        bcc=[bcc],
        headers={"Date": "Sat, 28 Nov 2026 10:00:00 +0000", "Message-ID": "<dj-1@client.test>"},
    )
    backend = EmailBackend(
        host="127.0.0.1",
        port=postfix.port,
        use_tls=True,
        ssl_cafile=ca_file,
        username=SASL_USER,
        password=SASL_PASSWORD,
        timeout=10,
    )

    assert backend.send_messages([message]) == 1

    # What Django's own SMTP backend would have sent: message().as_bytes(linesep="\r\n").
    wire = message.message().as_bytes(linesep="\r\n")
    assert_arrived_over_tls_with_auth(arrived, to, wire)
    assert_arrived_over_tls_with_auth(arrived, bcc, wire)  # Bcc: envelope only
    assert b"Bcc" not in arrived(bcc).message


def test_flask_extension_sends_through_postfix(
    postfix: PostfixInstance, ca_file: str, address: AddressFactory, arrived: Arrived
) -> None:
    flask = pytest.importorskip("flask")
    from flask_smtp_backend import Mail, Message

    app = flask.Flask("interop")
    app.config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=postfix.port,
        MAIL_USE_TLS=True,
        MAIL_CA_FILE=ca_file,
        MAIL_USERNAME=SASL_USER,
        MAIL_PASSWORD=SASL_PASSWORD,
        MAIL_DEFAULT_SENDER="app@sender.test",
        MAIL_SUPPRESS_SEND=False,
    )
    mail = Mail(app)
    to, cc = address("flask-to"), address("flask-cc")
    try:
        with app.app_context():
            message = Message("Grüße from Flask", recipients=[to], cc=[cc], body="Hi\n.dot\nü\n")
            mail.send(message)
            wire = message.as_bytes()  # its Date was stamped by the send
    finally:
        mail.close()

    assert_arrived_over_tls_with_auth(arrived, to, wire)
    assert_arrived_over_tls_with_auth(arrived, cc, wire)
    assert arrived(to).return_path == "app@sender.test"
