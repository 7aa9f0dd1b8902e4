"""Django's own SMTP backend: ``EmailBackend.send_messages`` with Django EmailMessages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from typing import Any

from . import Contender, module_missing

TIMEOUT = 60.0


def configure_django() -> None:
    """Minimal in-process settings: the mail code needs nothing but defaults."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEFAULT_CHARSET="utf-8", USE_TZ=True, EMAIL_TIMEOUT=TIMEOUT)
        django.setup()


def to_django(messages: Sequence[EmailMessage]) -> list[Any]:
    configure_django()
    from django.core.mail import EmailMessage as DjangoEmailMessage
    from django.core.mail.utils import DNS_NAME

    DNS_NAME.get_fqdn()  # cached after the first call; a lookup is not what we measure
    return [
        DjangoEmailMessage(
            subject=str(message["Subject"]),
            body=message.get_content(),
            from_email=str(message["From"]),
            to=[str(message["To"])],
        )
        for message in messages
    ]


def send_with(backend_class: Any, messages: Iterable[Any], host: str, port: int) -> int:
    """Send through any Django email backend class that takes host/port keywords."""
    backend = backend_class(
        host=host, port=port, username="", password="", use_tls=False, use_ssl=False
    )
    return int(backend.send_messages(messages))


def send(messages: Iterable[Any], host: str, port: int) -> int:
    from django.core.mail.backends.smtp import EmailBackend

    return send_with(EmailBackend, messages, host, port)


CONTENDERS = [
    Contender(
        "Django smtp.EmailBackend",
        send,
        module_missing("django.core.mail.backends.smtp", "django not installed"),
        to_django,
    )
]
