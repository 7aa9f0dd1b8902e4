"""A local mail catcher for development: SMTP on loopback, messages kept, a web inbox.

Needs the ``dev`` extra (aiosmtpd, and trustme for ``tls=True``)::

    from smtp_backend.devserver import DevServer

    with DevServer(port=1025, web_port=8025, maildir="mail", tls=True) as server:
        ...  # send mail to server.host:server.port, trusting server.ca_file
        server.messages  # list[StoredMessage]; the inbox and its JSON API at server.web_url

or from a shell: ``python -m smtp_backend.devserver --port 1025 --web-port 8025``
(the API is documented in the README, "Dev server API").
"""

from .console import main
from .server import DevServer
from .store import StoredMessage

__all__ = ["DevServer", "StoredMessage", "main"]
