"""Command arguments -> validated command lines (RFC 5321 §4.1, RFC 1869 parameters).

Everything that reaches the wire through here is checked first, so no argument
can end a command early or smuggle in another command or ESMTP parameter.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable

from ..errors import SMTPInvalidInputError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ESMTP_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
# RFC 5321 esmtp-value: any printable but "=" and space; RFC 6531 adds UTF-8.
_ESMTP_VALUE = re.compile(r"[^\x00-\x20=\x7f]+\Z")
_ANGLE_FORM = re.compile(r"[^<>]*<([^<>]*)>\s*\Z")
_HOSTNAME = re.compile(r"[^\x00-\x20\x7f<>()\[\]\\,;:@\"]+\Z|\[[^\x00-\x20\x7f\[\]\\]+\]\Z")


def _describe(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def reject_controls(value: str, what: str) -> None:
    """Raise if ``value`` holds CR, LF, NUL or another control character."""
    match = _CONTROL.search(value)
    if match is not None:
        kind = "prohibited newline characters" if match[0] in "\r\n" else "a control character"
        raise SMTPInvalidInputError(
            f"{what} contains {kind} ({match[0]!r}), which could end or inject an SMTP "
            f"command: {_describe(value)}"
        )


def quoteaddr(addrstring: str) -> str:
    """smtplib's ``quoteaddr``: the address inside angle brackets."""
    displayname, addr = email.utils.parseaddr(addrstring)
    if (displayname, addr) == ("", ""):
        if addrstring.strip().startswith("<"):
            return addrstring
        return f"<{addrstring}>"
    return f"<{addr}>"


def _check_mailbox(addr: str, what: str) -> None:
    """Whitespace and angle brackets may appear only inside a quoted local part."""
    quoted = escaped = False
    for char in addr:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and (char in "<> \t"):
            raise SMTPInvalidInputError(
                f"{what} {_describe(addr)} contains {char!r} outside quotes, which would "
                "let it smuggle an ESMTP parameter into the command"
            )
    if quoted:
        raise SMTPInvalidInputError(f"{what} {_describe(addr)} has an unclosed quote")


def path_argument(address: str, what: str = "address", *, reverse_path: bool = False) -> str:
    """``<mailbox>`` for MAIL FROM / RCPT TO, validated.

    Accepts ``mailbox``, ``<mailbox>`` and ``Display Name <mailbox>``. Anything else is
    refused rather than rewritten: smtplib's ``parseaddr`` would silently turn
    ``"a@b BODY=8BITMIME"`` into ``a@bBODY=8BITMIME`` and drop what follows a ``>``.
    An empty mailbox (``""``, ``"<>"``) is the null path ``<>``, valid only as the
    ``reverse_path`` (MAIL FROM, RFC 5321 §4.1.1.2); as a recipient it is refused.
    """
    reject_controls(address, what)
    angle_form = _ANGLE_FORM.match(address)
    mailbox = angle_form[1] if angle_form else address.strip()
    if mailbox in ("", "<>"):
        if not reverse_path:
            raise SMTPInvalidInputError(
                f"{what} {_describe(address)} is empty: the null path <> is only valid "
                "as the sender (MAIL FROM), never as a recipient"
            )
        return "<>"
    _check_mailbox(mailbox, what)
    return f"<{mailbox}>"


def validate_esmtp_parameter(option: str) -> None:
    """An RFC 1869 ``keyword[=value]`` with nothing that could end or extend the command."""
    reject_controls(option, "ESMTP parameter")
    keyword, sep, value = option.partition("=")
    if not _ESMTP_KEYWORD.match(keyword) or (sep and not _ESMTP_VALUE.match(value)):
        raise SMTPInvalidInputError(
            f"ESMTP parameter {_describe(option)} is not of the form KEYWORD[=VALUE] "
            "(a value of printable characters, with no space or '=')"
        )


def option_list(options: Iterable[str]) -> str:
    """The validated options joined for the command line, with a leading space if any."""
    options = list(options)
    for option in options:
        validate_esmtp_parameter(option)
    return " " + " ".join(options) if options else ""


def validate_hostname(name: str) -> None:
    """A name for HELO/EHLO/LHLO: a domain or an address literal, nothing else."""
    reject_controls(name, "local_hostname")
    if not _HOSTNAME.match(name):
        raise SMTPInvalidInputError(
            f"local_hostname {_describe(name)} is not a domain or an address literal"
        )


def command_line(cmd: str, args: str = "") -> str:
    """smtplib's ``putcmd`` line, refusing CR and LF as smtplib does (``ValueError``)."""
    line = f"{cmd} {args}" if args else cmd
    if "\r" in line or "\n" in line:
        shown = line.replace("\n", "\\n").replace("\r", "\\r")
        raise ValueError(f"command and arguments contain prohibited newline characters: {shown}")
    return line + "\r\n"


def mail_command(sender: str, options: Iterable[str] = ()) -> str:
    return (
        f"mail from:{path_argument(sender, 'sender', reverse_path=True)}{option_list(options)}\r\n"
    )


def rcpt_command(recipient: str, options: Iterable[str] = ()) -> str:
    return f"rcpt to:{path_argument(recipient, 'recipient')}{option_list(options)}\r\n"
