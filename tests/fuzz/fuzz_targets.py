"""atheris fuzz targets for the two parsers of untrusted bytes: server replies and message data.

python tests/fuzz/fuzz_targets.py replies -max_total_time=10
python tests/fuzz/fuzz_targets.py data -max_total_time=10
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from smtp_backend.errors import SMTPProtocolError
    from smtp_backend.protocol import ReplyParser, ServerFeatures, prepare_transaction
    from smtp_backend.protocol.data import encode_data
    from smtp_backend.results import Envelope

_CHUNKING = ServerFeatures(esmtp=True, pipelining=True, chunking=True)


def replies(data: bytes) -> None:
    """Any bytes, split anywhere: replies or SMTPProtocolError, and the same either way."""
    if not data:
        return
    cut = data[0] % len(data)
    whole, split = ReplyParser(), ReplyParser()
    try:
        whole.feed(data[1:])
    except SMTPProtocolError:
        return
    split.feed(data[1 : cut + 1])
    split.feed(data[cut + 1 :])
    for parser in (whole, split):
        while (reply := parser.next_reply()) is not None:
            assert reply.code == -1 or 0 <= reply.code <= 999, reply
    assert whole.pending == split.pending == 0


def data(message: bytes) -> None:
    """Any message data: no bare CR or LF, no early terminator, stuffing that undoes."""
    encoded = encode_data(message)
    # The data phase starts at a line start: only the final CRLF.CRLF may end it.
    assert encoded.find(b"\r\n.\r\n") == len(encoded) - 5
    assert not encoded.startswith(b".\r\n")
    body = encoded[:-3]
    assert body.replace(b"\r\n", b"").count(b"\r") == 0
    assert body.replace(b"\r\n", b"").count(b"\n") == 0
    lines = body.split(b"\r\n")
    assert all(not line.startswith(b".") or line.startswith(b"..") for line in lines)
    envelope = Envelope("a@example.test", ["b@example.test"], message)
    chunk = prepare_transaction(envelope, _CHUNKING, use_bdat=True).payload
    header, _, payload = chunk.partition(b"\r\n")
    assert header == b"BDAT %d LAST" % len(payload)


if __name__ == "__main__":
    target = {"replies": replies, "data": data}[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()
