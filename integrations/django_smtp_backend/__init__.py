"""Django email backend on smtp_backend: Django's SMTP backend contract, pooled and pipelined.

    EMAIL_BACKEND = "django_smtp_backend.EmailBackend"

or, with Django 6.1's ``MAILERS``::

    MAILERS = {"default": {"BACKEND": "django_smtp_backend.EmailBackend",
                           "OPTIONS": {"host": "smtp.example.com", "use_tls": True}}}
"""

from .backend import EmailBackend
from .shared import aclose_shared_mailers, close_shared_mailers
from .signals import CancelSend, post_send, pre_send

__all__ = [
    "CancelSend",
    "CeleryEmailBackend",
    "EmailBackend",
    "aclose_shared_mailers",
    "close_shared_mailers",
    "post_send",
    "pre_send",
]


def __getattr__(name: str) -> object:
    # CeleryEmailBackend needs the celery extra: import it only when it is asked for.
    if name == "CeleryEmailBackend":
        from .celery_backend import CeleryEmailBackend

        return CeleryEmailBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
