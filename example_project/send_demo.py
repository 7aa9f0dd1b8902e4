"""The main job, end to end: send mail through smtp_backend to an embedded local
SMTP server (aiosmtpd on 127.0.0.1) and show what arrived and each message's fate.

    python example_project/send_demo.py
"""

from __future__ import annotations

import socket
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import Envelope as ServerEnvelope
from aiosmtpd.smtp import Session

import smtp_backend


class Inbox:
    """An aiosmtpd handler that keeps what arrives and refuses one domain, to show refusals."""

    def __init__(self) -> None:
        self.received: list[ServerEnvelope] = []

    async def handle_EHLO(
        self,
        server: SMTPProtocol,
        session: Session,
        envelope: ServerEnvelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(
        self,
        server: SMTPProtocol,
        session: Session,
        envelope: ServerEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.endswith("@nowhere.example"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTPProtocol, session: Session, envelope: ServerEnvelope
    ) -> str:
        self.received.append(envelope)
        return "250 2.0.0 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def newsletter(number: int, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "News <news@example.com>"
    msg["To"] = to
    msg["Subject"] = f"Issue #{number}"
    msg.set_content(f"Hello!\n.\nThis is newsletter issue {number}.\n")
    return msg


def main() -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        print(f"embedded SMTP server on 127.0.0.1:{controller.port}\n")
        with smtp_backend.SMTP("127.0.0.1", controller.port) as smtp:
            refused = smtp.send_message(newsletter(0, "alice@example.com"))
            print(f"send_message: refused recipients {refused}")
            batch = [newsletter(n, f"reader{n}@example.com") for n in range(1, 5)]
            batch.insert(2, newsletter(99, "ghost@nowhere.example"))
            results = smtp.send_many(batch)
        print("\nsend_many, one result per message, pipelined:")
        for result in results:
            reason = result.reply.text if result.reply else result.error
            print(
                f"  #{result.index}  {result.state.value:<13} {', '.join(result.recipients):<28} {reason}"
            )
        print(f"\nthe server received {len(inbox.received)} messages:")
        for envelope in inbox.received:
            content = envelope.content if isinstance(envelope.content, bytes) else b""
            subject = next(
                (line for line in content.splitlines() if line.startswith(b"Subject:")), b""
            )
            print(f"  {envelope.mail_from} -> {', '.join(envelope.rcpt_tos)}  {subject.decode()}")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
