"""The aiosmtpd handler: records accepted messages and plays the failure conventions.

Conventions for failure tests:
  sender ``reject@sender.test``          -> 553 5.7.1 at MAIL
  recipient ``...@refused.test``         -> 550 5.1.1 at RCPT
  recipient ``...@tempfail.test``        -> 451 4.3.0 at RCPT
  content with a line ``X-Fail-Data: NNN`` -> NNN after DATA / the last BDAT chunk
"""

from __future__ import annotations

import re
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from .options import SMTPServerOptions
from .records import ReceivedMessage, ServerLog

REJECTED_SENDER = "reject@sender.test"
REFUSED_DOMAIN = "refused.test"
TEMPFAIL_DOMAIN = "tempfail.test"
_FAIL_DATA = re.compile(rb"^X-Fail-Data: ([45]\d\d)\r?$", re.MULTILINE)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


class RecordingHandler:
    def __init__(self, options: SMTPServerOptions, log: ServerLog) -> None:
        self.options = options
        self.log = log

    async def handle_EHLO(
        self, server: Any, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO hook
        greeting, *keywords = [line[4:] for line in responses]
        keywords.remove("HELP")
        if not self.options.auth:
            keywords = [keyword for keyword in keywords if not keyword.startswith("AUTH")]
        if self.options.pipelining:
            keywords.append("PIPELINING")
        if self.options.chunking:
            keywords.append("CHUNKING")
        keywords.append("HELP")
        lines = [greeting, *keywords]
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() == REJECTED_SENDER:
            return f"553 5.7.1 <{address}>: Sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == "":
            return "553 5.1.3 Error: null recipient"
        domain = _domain(address)
        if domain == REFUSED_DOMAIN:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if domain == TEMPFAIL_DOMAIN:
            return f"451 4.3.0 <{address}>: Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        failure = _FAIL_DATA.search(content)
        if failure is not None:
            code = failure[1].decode()
            return f"{code} {code[0]}.6.0 Rejected as the message asked (X-Fail-Data)"
        chunks = getattr(envelope, "chunks", None)
        assert envelope.mail_from is not None
        self.log.add_message(
            ReceivedMessage(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                mail_options=tuple(envelope.mail_options),
                rcpt_options=tuple(envelope.rcpt_options),
                content=content,
                transfer="DATA" if chunks is None else "BDAT",
                chunks=() if chunks is None else tuple(chunks),
                connection=server.connection_number,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                login=session.login_data,
                smtp_utf8=envelope.smtp_utf8,
            )
        )
        return "250 2.0.0 OK: queued"
