"""From an ``email.message.Message`` (or a string) to an envelope and the bytes to send.

The rules are smtplib's ``send_message`` and ``sendmail`` exactly: the same envelope
from the same headers, the same bytes from the same generator, the same errors.
"""

from __future__ import annotations

import copy
import email.generator
import email.message
import email.utils
import io
import re
from collections.abc import Iterable, Sequence

from smtp_backend.errors import SMTPNotSupportedError
from smtp_backend.protocol.fast_envelope import fast_envelope
from smtp_backend.protocol.fast_flatten import fast_flatten
from smtp_backend.results import Envelope

from .headers import check_message_headers

__all__ = [
    "envelope_addresses",
    "flatten_message",
    "message_to_envelope",
    "needs_smtputf8",
    "sendmail_data",
    "text_with_crlf",
]

SMTPUTF8_REQUIRED = (
    "One or more source or delivery addresses require"
    " internationalized email support, but the server"
    " does not advertise the required SMTPUTF8 capability"
)
_INTERNATIONAL_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")
_BARE_EOL = re.compile(r"(?:\r\n|\n|\r(?!\n))")


def envelope_addresses(
    msg: email.message.Message,
    from_addr: str | None = None,
    to_addrs: Sequence[str] | str | None = None,
) -> tuple[str, list[str]]:
    """The envelope sender and recipients, taken from the headers where not given.

    One ``Resent-Date`` header means the ``Resent-*`` headers are used; more than one
    raises ``ValueError`` (as smtplib does: no way to tell which block is newest).
    The sender is ``Sender`` if present, else ``From``; the recipients are ``To``,
    ``Bcc`` and ``Cc`` in that order, less any that parses to nothing (smtplib would
    send ``RCPT TO:<>`` for it). A ``str`` ``to_addrs`` is one recipient.
    """
    if from_addr is None and to_addrs is None:
        common = fast_envelope(msg)  # the same answer without the address parser
        if common is not None:
            return common
    resent = msg.get_all("Resent-Date")
    if resent is None:
        prefix = ""
    elif len(resent) == 1:
        prefix = "Resent-"
    else:
        raise ValueError("message has more than one 'Resent-' header block")
    if from_addr is None:
        # RFC 5322 3.6.2: Sender, when present, is the agent responsible for sending.
        sender_field = prefix + "Sender"
        header = msg[sender_field] if sender_field in msg else msg[prefix + "From"]
        from_addr = email.utils.getaddresses([header])[0][1]
    if to_addrs is None:
        fields = [
            value
            for value in (msg[prefix + "To"], msg[prefix + "Bcc"], msg[prefix + "Cc"])
            if value is not None
        ]
        # A group with no members ("undisclosed-recipients:;") parses to "": no recipient.
        recipients = [address for _, address in email.utils.getaddresses(fields) if address]
    elif isinstance(to_addrs, str):
        recipients = [to_addrs]
    else:
        recipients = list(to_addrs)
    return from_addr, recipients


def needs_smtputf8(from_addr: str, to_addrs: Iterable[str]) -> bool:
    """True when any address holds a non-ASCII character (so SMTPUTF8 is required)."""
    return not (from_addr.isascii() and all(address.isascii() for address in to_addrs))


def flatten_message(msg: email.message.Message, *, international: bool) -> bytes:
    """The message as smtplib's ``send_message`` transmits it, CRLF line endings.

    ``Bcc`` and ``Resent-Bcc`` are never transmitted; the caller's message is not
    changed. With ``international`` the message's policy is cloned with ``utf8=True``
    (a ``compat32`` message then raises ``TypeError``, as in smtplib). A header value
    that would start a new line raises ``SMTPInvalidInputError`` (protocol.headers).
    """
    check_message_headers(msg)
    common = fast_flatten(msg, international=international)  # the same bytes, quicker
    if common is not None:
        return common
    # smtplib flattens a shallow copy: the generator sets an invented boundary, or mangles
    # "From " lines of an 8-bit body, on the message it is given (the copy, not the caller's)
    msg = copy.copy(msg)
    del msg["Bcc"]
    del msg["Resent-Bcc"]
    with io.BytesIO() as buffer:
        if international:
            # compat32 has no utf8 and raises TypeError here, as smtplib does.
            policy = msg.policy.clone(utf8=True)  # type: ignore[call-arg]
            generator = email.generator.BytesGenerator(buffer, policy=policy)
        else:
            generator = email.generator.BytesGenerator(buffer)
        generator.flatten(msg, linesep="\r\n")
        return buffer.getvalue()


def _with_international_options(mail_options: Sequence[str]) -> tuple[str, ...]:
    present = {option.upper() for option in mail_options}
    extra = tuple(option for option in _INTERNATIONAL_OPTIONS if option not in present)
    return (*mail_options, *extra)


def message_to_envelope(
    msg: email.message.Message,
    from_addr: str | None = None,
    to_addrs: Sequence[str] | str | None = None,
    mail_options: Sequence[str] = (),
    rcpt_options: Sequence[str] = (),
    *,
    server_smtputf8: bool,
) -> Envelope:
    """What smtplib's ``send_message`` would pass to ``sendmail``, as an :class:`Envelope`.

    Raises ``ValueError`` for several ``Resent-`` blocks, and
    :class:`SMTPNotSupportedError` (smtplib's message) when an address is non-ASCII
    and the server does not advertise SMTPUTF8. For a non-ASCII address,
    ``SMTPUTF8`` and ``BODY=8BITMIME`` are added to the mail options unless present.
    """
    sender, recipients = envelope_addresses(msg, from_addr, to_addrs)
    international = needs_smtputf8(sender, recipients)
    if international:
        if not server_smtputf8:
            raise SMTPNotSupportedError(SMTPUTF8_REQUIRED)
        mail_options = _with_international_options(mail_options)
    data = flatten_message(msg, international=international)
    return Envelope(sender, recipients, data, mail_options, rcpt_options)


def text_with_crlf(text: str) -> str:
    """``text`` with every LF, bare CR and CRLF made CRLF (smtplib's ``_fix_eols``)."""
    return _BARE_EOL.sub("\r\n", text)


def sendmail_data(msg: str | bytes | bytearray) -> bytes:
    """smtplib ``sendmail``'s rule for its ``msg``: a str gets CRLF line endings and
    must be ASCII (``UnicodeEncodeError`` otherwise); bytes pass through unchanged."""
    if isinstance(msg, str):
        return text_with_crlf(msg).encode("ascii")
    return bytes(msg)
