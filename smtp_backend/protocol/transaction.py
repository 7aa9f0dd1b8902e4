"""One envelope -> the validated octets of its transaction (MAIL, RCPT..., DATA or BDAT)."""

from __future__ import annotations

from dataclasses import dataclass

from ..dsn import DSN
from ..errors import SMTPMessageTooLarge, SMTPNotSupportedError
from ..results import Envelope
from .commands import mail_command, rcpt_command
from .data import DATA_TERMINATOR, dot_stuff, ensure_final_crlf, normalize_line_endings
from .features import ServerFeatures
from .message import SMTPUTF8_REQUIRED, needs_smtputf8


@dataclass(slots=True)
class PreparedTransaction:
    """Everything a transaction writes, checked and encoded before any byte is sent."""

    sender: str
    recipients: tuple[str, ...]
    mail: bytes
    rcpts: tuple[bytes, ...]
    payload: bytes  # DATA mode: stuffed content + ".\r\n"; BDAT mode: "BDAT n LAST\r\n" + chunk
    use_bdat: bool
    size: int
    message_id: str | None = None
    content: bytes = b""  # the message as the server receives it: CRLF, final CRLF, unstuffed


def _has_option(options: list[str], keyword: str) -> bool:
    keyword = keyword.lower()
    return any(o.partition("=")[0].lower() == keyword for o in options)


def mail_parameters(
    options: list[str], features: ServerFeatures, size: int, *, international: bool, eightbit: bool
) -> list[str]:
    """The MAIL parameters smtplib would send, plus SIZE/SMTPUTF8/BODY where they apply."""
    if not features.esmtp:
        if international:
            raise SMTPNotSupportedError(SMTPUTF8_REQUIRED)
        return []  # smtplib drops ESMTP options silently when the server is not ESMTP
    wants_utf8 = _has_option(options, "smtputf8")
    if (international or wants_utf8) and not features.smtputf8:
        raise SMTPNotSupportedError(
            SMTPUTF8_REQUIRED if international else "SMTPUTF8 not supported by server"
        )
    result = list(options)
    if features.size_limit is not None and not _has_option(result, "size"):
        result.insert(0, f"size={size}")
    if international and not wants_utf8:
        result.append("SMTPUTF8")
    if (international or eightbit) and features.eightbitmime and not _has_option(result, "body"):
        result.append("BODY=8BITMIME")
    return result


def _usable_dsn(envelope: Envelope, features: ServerFeatures) -> DSN | None:
    dsn = envelope.dsn
    if dsn is None or features.dsn:
        return dsn
    if dsn.required:
        raise SMTPNotSupportedError(
            "delivery status notifications were requested but the server does not "
            "advertise DSN (pass DSN(..., required=False) to send without them)"
        )
    return None


def _check_require_tls(features: ServerFeatures) -> None:
    """RFC 8689 §4.1: only over TLS with a verified certificate, to a server offering it."""
    if not features.tls_verified:
        raise SMTPNotSupportedError(
            "REQUIRETLS needs a TLS connection whose certificate and host name were verified"
        )
    if not features.requiretls:
        raise SMTPNotSupportedError("REQUIRETLS was requested but the server does not offer it")


def prepare_transaction(
    envelope: Envelope,
    features: ServerFeatures,
    *,
    use_bdat: bool,
    message_id: str | None = None,
) -> PreparedTransaction:
    """Validate and encode ``envelope`` for a server with ``features``.

    Raises ``SMTPInvalidInputError`` (an address or option that could inject),
    ``SMTPNotSupportedError`` (needs SMTPUTF8 the server lacks) or
    ``SMTPMessageTooLarge`` (over the advertised SIZE), all before any byte is sent.
    """
    normalized = normalize_line_endings(envelope.data)
    size = len(normalized)  # smtplib's SIZE= value: the message as given, CRLF line endings
    canonical = ensure_final_crlf(normalized)
    if features.size_limit and size > features.size_limit:
        raise SMTPMessageTooLarge(size, features.size_limit)
    recipients = tuple(envelope.recipients)
    international = needs_smtputf8(envelope.sender, recipients)
    dsn = _usable_dsn(envelope, features)
    options = list(envelope.mail_options)
    if dsn is not None:
        options += dsn.mail_parameters()
    if envelope.require_tls:
        _check_require_tls(features)
        options.append("REQUIRETLS")
    params = mail_parameters(
        options,
        features,
        size,
        international=international,
        eightbit=not canonical.isascii(),
    )
    encoding = "utf-8" if _has_option(params, "smtputf8") else "ascii"
    rcpt_options = envelope.rcpt_options if features.esmtp else ()
    try:
        mail = mail_command(envelope.sender, params).encode(encoding)
        rcpts = tuple(
            rcpt_command(r, [*rcpt_options, *(dsn.rcpt_parameters(r) if dsn else ())]).encode(
                encoding
            )
            for r in recipients
        )
    except UnicodeEncodeError as exc:
        raise SMTPNotSupportedError(SMTPUTF8_REQUIRED) from exc
    if use_bdat:
        payload = b"BDAT %d LAST\r\n" % len(canonical) + canonical
    else:
        payload = dot_stuff(canonical) + DATA_TERMINATOR
    return PreparedTransaction(
        envelope.sender,
        recipients,
        mail,
        rcpts,
        payload,
        use_bdat,
        size,
        message_id if message_id is not None else envelope.message_id,
        canonical,
    )
