"""The sans-I/O SMTP engine: bytes in, replies out; envelopes in, framed octets out.

Nothing here touches a socket, a clock or a thread, so both drivers (blocking and
asyncio) share it and tests drive it by feeding bytes.
"""

from .batch import DEFAULT_WINDOW, BatchEngine, UnpreparedMessage
from .commands import (
    command_line,
    mail_command,
    option_list,
    path_argument,
    quoteaddr,
    rcpt_command,
    reject_controls,
    validate_hostname,
)
from .data import encode_data, normalize_line_endings
from .features import ServerFeatures, parse_ehlo_features
from .headers import check_header_value, check_message_headers, header_value_problem
from .replies import MAX_LINE_LENGTH, ReplyParser, parse_enhanced_code
from .transaction import PreparedTransaction, prepare_transaction

__all__ = [
    "DEFAULT_WINDOW",
    "MAX_LINE_LENGTH",
    "BatchEngine",
    "PreparedTransaction",
    "ReplyParser",
    "ServerFeatures",
    "UnpreparedMessage",
    "check_header_value",
    "check_message_headers",
    "command_line",
    "encode_data",
    "header_value_problem",
    "mail_command",
    "normalize_line_endings",
    "option_list",
    "parse_ehlo_features",
    "parse_enhanced_code",
    "path_argument",
    "prepare_transaction",
    "quoteaddr",
    "rcpt_command",
    "reject_controls",
    "validate_hostname",
]
