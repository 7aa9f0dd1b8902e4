"""The bytes ``BytesGenerator`` writes for common messages, without its header folder.

``fast_flatten`` returns exactly what smtplib's ``send_message`` would flatten (the
``email`` package's ``BytesGenerator``, CRLF line endings, ``Bcc`` and ``Resent-Bcc``
left out), or ``None`` for anything outside the cases it knows to be the same:
then the caller uses the stdlib. It knows the cases where the stdlib's folder
leaves a header alone: a one-line printable-ASCII header that fits within the
policy's ``max_line_length``; text and ``multipart`` bodies whose boundary is set;
``EmailPolicy`` (or a subclass that folds as it does) and ``compat32``; message classes
that leave what the generator calls as ``Message`` has it. Everything else (a header to fold or
encode, a boundary to invent, a ``message/*`` part, a custom policy) is the stdlib's.
``fast_as_bytes`` and ``wire_bytes`` do the same for ``Message.as_bytes`` (what the
frameworks serialise with: no ``>From`` mangling, ``Bcc`` kept).
"""

from __future__ import annotations

import functools
import io
import re
import sys
from email import _header_value_parser, headerregistry
from email._policybase import Compat32
from email.generator import BytesGenerator
from email.message import Message
from email.policy import EmailPolicy
from typing import Any

__all__ = ["fast_as_bytes", "fast_flatten", "wire_bytes"]

_NL = "\r\n"
_BNL = b"\r\n"
# what the generator calls on a message, on the paths this module reproduces: a class
# that overrides one of them (or adds _write_headers) may generate other bytes
_GENERATOR_USES = (
    "raw_items",
    "get",
    "get_payload",
    "is_multipart",
    "get_content_type",
    "get_content_maintype",
    "get_content_subtype",
    "get_default_type",
    "get_boundary",
    "get_param",
    "get_params",
    "_get_params_preserve",
)
# RFC 5322 field-name: printable ASCII but colon (and no space)
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# what the generator's line-ending rule (NLCRE) and From-mangling (fcre) match
_LINE_END = re.compile(r"\r\n|\r|\n")
_FROM_LINE = re.compile(r"^From ", re.MULTILINE)
_TOKEN_LIST_STR: Any = _header_value_parser.TokenList.__str__
_NOT_TRANSMITTED = ("bcc", "resent-bcc")
_UNLIMITED = sys.maxsize  # EmailPolicy's max_line_length 0/None
_COMPAT32_UNLIMITED = 1_000_000  # Header.encode's stand-in for "don't wrap"


class _Kind:
    """How a header object's folded text relates to ``str(value)``."""

    SAME = 0  # ``str(value)`` is the parse tree's text by construction
    DATE = 1  # the same, unless the date did not parse (then the tree is empty)
    ADDRESS = 2  # ``str(value)`` is re-formatted: the tree's text is the source


# what BytesGenerator calls on its policy to write a header
_POLICY_FOLDS = ("fold_binary", "fold", "_fold")
# the classes HeaderRegistry builds: (the stdlib's mixin, BaseHeader) exactly
_HEADER_KINDS: dict[tuple[type, ...], int] = {
    (mixin, headerregistry.BaseHeader): kind
    for kind, mixins in (
        (
            _Kind.SAME,
            (
                headerregistry.UnstructuredHeader,
                headerregistry.UniqueUnstructuredHeader,
                headerregistry.MIMEVersionHeader,
                headerregistry.ContentTypeHeader,
                headerregistry.ContentDispositionHeader,
                headerregistry.ContentTransferEncodingHeader,
                headerregistry.MessageIDHeader,
            ),
        ),
        (_Kind.DATE, (headerregistry.DateHeader, headerregistry.UniqueDateHeader)),
        (
            _Kind.ADDRESS,
            (
                headerregistry.AddressHeader,
                headerregistry.UniqueAddressHeader,
                headerregistry.SingleAddressHeader,
                headerregistry.UniqueSingleAddressHeader,
            ),
        ),
    )
    for mixin in mixins
}


class _Rules:
    """The generator's policy, reduced to what decides the bytes of a common message."""

    __slots__ = ("compat32", "cte_7bit", "limit", "mangle", "refold_all", "refold_long")

    def __init__(self, policy: Any, *, mangle: bool) -> None:
        self.compat32 = type(policy) is Compat32
        self.cte_7bit = policy.cte_type == "7bit"
        length = policy.max_line_length
        self.limit = length or (_COMPAT32_UNLIMITED if self.compat32 else _UNLIMITED)
        self.mangle = mangle
        refold = getattr(policy, "refold_source", "long")
        self.refold_all = refold == "all"
        self.refold_long = refold == "long"


def fast_flatten(msg: Message, *, international: bool) -> bytes | None:
    """``flatten_message``'s bytes for ``msg``, or ``None`` when the stdlib must make them.

    The same policy rule as smtplib: the message's own policy, cloned with
    ``utf8=True`` when ``international`` (``None`` for ``compat32``, where the stdlib
    raises ``TypeError``); ``>From`` mangling unless ``international``.
    """
    policy = msg.policy
    if _folds_as_email_policy(type(policy)):
        # BytesGenerator(buffer) mangles (its policy is None); with a policy, the policy says
        rules = _Rules(policy, mangle=policy.mangle_from_ if international else True)
    elif type(policy) is Compat32 and not international:
        rules = _Rules(policy, mangle=True)
    else:
        return None
    return _flatten(msg, rules, drop_bcc=True)


def fast_as_bytes(msg: Message, policy: Any = None) -> bytes | None:
    """``msg.as_bytes(policy=policy)`` with CRLF line endings (the stdlib's
    ``Message.as_bytes``; ``policy`` defaults to the message's), or ``None`` when the
    stdlib must make them."""
    policy = msg.policy if policy is None else policy
    policy_class: type = type(policy)  # a class as such, for the cache (mypy: type[Any])
    if policy_class is not Compat32 and not _folds_as_email_policy(policy_class):
        return None
    return _flatten(msg, _Rules(policy, mangle=False), drop_bcc=False)


def wire_bytes(msg: Message, policy: Any = None) -> bytes:
    """The stdlib's ``Message.as_bytes(policy=policy)`` of ``msg`` with CRLF line endings
    (``policy`` defaults to the message's): no ``>From`` mangling, every header kept;
    made by the fast path when it can be, byte for byte."""
    fast = fast_as_bytes(msg, policy)
    if fast is not None:
        return fast
    policy = (msg.policy if policy is None else policy).clone(linesep=_NL)
    with io.BytesIO() as buffer:
        BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(msg)
        return buffer.getvalue()


@functools.lru_cache(maxsize=64)
def _folds_as_email_policy(cls: type) -> bool:
    """``EmailPolicy`` or a subclass that folds as it does (one may change how headers
    are read back, as a framework's policy does: the generator only folds with it)."""
    if not issubclass(cls, EmailPolicy):
        return False
    return all(getattr(cls, name) is getattr(EmailPolicy, name) for name in _POLICY_FOLDS)


@functools.lru_cache(maxsize=64)
def _generates_as_message(cls: type) -> bool:
    """True when the generator sees ``cls`` as it sees ``email.message.Message``."""
    if not issubclass(cls, Message) or hasattr(cls, "_write_headers"):
        return False
    return all(getattr(cls, name) is getattr(Message, name) for name in _GENERATOR_USES)


def _flatten(msg: Message, rules: _Rules, *, drop_bcc: bool = False) -> bytes | None:
    message_class: type = type(msg)  # a class as such (mypy reads Message's __hash__)
    if not _generates_as_message(message_class):
        return None
    lines: list[str] = []
    ctype: str | None = None
    for name, value in msg.raw_items():
        if drop_bcc and name.lower() in _NOT_TRANSMITTED:
            continue
        header = _header(name, value, rules)
        if header is None:
            return None
        if ctype is None and name.lower() == "content-type":
            ctype = header[1]
        lines += (header[0], ": ", header[1], _NL)
    lines.append(_NL)
    head = "".join(lines).encode("ascii")
    kind = _handler(_content_type(ctype, msg))
    payload = msg._payload  # type: ignore[attr-defined]
    if kind == "text":
        if payload is None:
            return head
        if type(payload) is not str:
            return None
        body = _text_bytes(payload, rules)
        return None if body is None else head + body
    if kind == "multipart" and type(payload) is list:
        body = _multipart_body(msg, payload, rules)
        return None if body is None else head + body
    return None


def _header(name: str, value: Any, rules: _Rules) -> tuple[str, str] | None:
    """(name, text) written as ``name: text`` when the policy's folder leaves it whole."""
    if rules.compat32:
        # Header.encode keeps one ASCII chunk that fits, but not its edge whitespace
        if type(value) is not str or not value or value[0] == " " or value[-1] == " ":
            return None
        text = value
    elif type(value) is str:
        # a source value (parsed) is written as it is unless the policy refolds it
        if rules.refold_all:
            return None
        text = value
        if not rules.refold_long:
            return (name, text) if _plain(text) and _FIELD_NAME.fullmatch(name) else None
    else:
        kind = _HEADER_KINDS.get(type(value).__bases__)
        if kind is None:
            return None
        name = value.name  # the header object's own name is what the folder writes
        if kind == _Kind.ADDRESS:
            text = "".join(_tree_text(value._parse_tree, []))
        elif kind == _Kind.DATE and value.datetime is None:
            return None
        else:
            text = str(value)
        if not text or "=?" in text:
            return None  # an empty value loses its space; encoded words are re-encoded
    if len(name) + 2 + len(text) > rules.limit or not _plain(text):
        return None
    return (name, text) if _FIELD_NAME.fullmatch(name) else None


def _tree_text(tree: Any, out: list[str]) -> list[str]:
    """``str(tree)`` (a header parse tree), collected without a generator per level."""
    for node in tree:
        if type(node).__str__ is _TOKEN_LIST_STR:
            _tree_text(node, out)
        else:
            out.append(str(node))  # a terminal, or a token with its own __str__ (quoting)
    return out


def _plain(text: str) -> bool:
    """Printable ASCII only: nothing a folder encodes, splits or drops."""
    return text.isascii() and text.isprintable()


def _content_type(value: str | None, msg: Message) -> str:
    """``Message.get_content_type`` from the first Content-Type header's text."""
    if value is None:
        return msg.get_default_type()
    ctype = value.partition(";")[0].strip().lower()
    return ctype if ctype.count("/") == 1 else "text/plain"


@functools.lru_cache(maxsize=256)
def _handler(ctype: str) -> str | None:
    """Which of the generator's handlers ``_dispatch`` picks for ``ctype``, by name."""
    main, _, sub = ctype.partition("/")
    specific = f"{main}_{sub}".replace("-", "_")
    method = getattr(BytesGenerator, "_handle_" + specific, None)
    if method is None:
        method = getattr(BytesGenerator, "_handle_" + main.replace("-", "_"), None)
    if method is None:
        return "text"  # _dispatch falls back to _writeBody, which is _handle_text
    if method.__qualname__ == "BytesGenerator._handle_text":
        return "text"
    if method.__qualname__ == "Generator._handle_multipart":
        return "multipart"
    return None  # message/*, multipart/signed: handlers of their own


def _text_bytes(text: str, rules: _Rules) -> bytes | None:
    """A text payload with CRLF line endings (``_write_lines``), as the generator encodes it."""
    if not text.isascii() and rules.cte_7bit:
        return None  # 8-bit data under a 7bit policy is re-encoded by the stdlib
    if rules.mangle and "From " in text:
        text = _FROM_LINE.sub(">From ", text)
    text = text.replace("\n", _NL) if "\r" not in text else _LINE_END.sub(_NL, text)
    try:
        # surrogates (8-bit source bytes) go back as bytes; other non-ASCII raises there
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return None


def _multipart_body(msg: Message, parts: list[Any], rules: _Rules) -> bytes | None:
    """``_handle_multipart`` for a message whose boundary is already set."""
    boundary = msg.get_boundary()
    if not boundary or not boundary.isascii():
        return None  # the generator would invent one (and set it on the message)
    delimiter = b"--" + boundary.encode("ascii")
    out: list[bytes] = []
    if msg.preamble is not None:
        preamble = _text_bytes(msg.preamble, rules)
        if preamble is None:
            return None
        out += (preamble, _BNL)
    flat_parts: list[bytes] = []
    for part in parts:
        flat = _flatten(part, rules) if isinstance(part, Message) else None
        if flat is None:
            return None
        flat_parts.append(flat)
    out += (delimiter, _BNL, (_BNL + delimiter + _BNL).join(flat_parts))
    out += (_BNL, delimiter, b"--", _BNL)
    if msg.epilogue is not None:
        epilogue = _text_bytes(msg.epilogue, rules)
        if epilogue is None:
            return None
        out.append(epilogue)
    return b"".join(out)
