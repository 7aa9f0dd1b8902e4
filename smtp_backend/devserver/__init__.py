"""A local mail catcher for development: SMTP on loopback, messages kept, a web inbox.

Needs the ``dev`` extra (``pip install 'smtp-backend[dev]'``, which installs aiosmtpd)::

    from smtp_backend.devserver import DevServer

    with DevServer(port=1025, web_port=8025, maildir="mail") as server:
        ...  # send mail to server.host:server.port, browse server.web_url
        server.messages  # list[StoredMessage]

or from a shell: ``python -m smtp_backend.devserver --port 1025 --web-port 8025``.
"""

from .console import main
from .server import DevServer
from .store import StoredMessage

__all__ = ["DevServer", "StoredMessage", "main"]
