"""Smoke tests of the benchmark harness (not of speed): ``pytest benchmarks/test_smoke.py``.

The proxy must deliver every byte, in order, no sooner than its delay and with the
delays of successive chunks overlapping; a ``--quick`` run against the in-repo sink
must send every message with every client that is installed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import latency_proxy, run  # noqa: E402
from benchmarks.contenders import all_contenders  # noqa: E402


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)
        await writer.drain()
    writer.close()


async def _with_proxy(delay: float, talk):  # type: ignore[no-untyped-def]
    """Run ``talk(reader, writer)`` through a proxy in front of an echo server."""
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    echo_port = echo.sockets[0].getsockname()[1]
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    proxy = asyncio.create_task(latency_proxy.serve(("127.0.0.1", echo_port), delay, 0, ready))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", await ready)
        try:
            return await asyncio.wait_for(talk(reader, writer), 30)
        finally:
            writer.close()
    finally:
        proxy.cancel()
        echo.close()


def test_proxy_delivers_every_byte_in_order_both_ways() -> None:
    payload = os.urandom(3 * 1024 * 1024)

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        async def send() -> None:
            for start in range(0, len(payload), 100_000):
                writer.write(payload[start : start + 100_000])
                await writer.drain()
            writer.write_eof()

        sending = asyncio.create_task(send())
        received = await reader.read()  # until the echo's EOF comes back through the proxy
        await sending
        return received

    assert asyncio.run(_with_proxy(0.005, talk)) == payload


def test_proxy_delays_each_chunk_without_queueing_the_delays() -> None:
    delay, chunks, spacing = 0.2, 5, 0.02

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[float]:
        started = time.monotonic()
        arrivals = []
        for index in range(chunks):
            writer.write(b"chunk %d;" % index)
            await writer.drain()
            await asyncio.sleep(spacing)
        received = b""
        while len(received) < len(b"".join(b"chunk %d;" % i for i in range(chunks))):
            received += await reader.read(1024)
            arrivals.append(time.monotonic() - started)
        return arrivals

    arrivals = asyncio.run(_with_proxy(delay, talk))
    # the echo crosses the proxy twice: nothing can come back before two delays
    assert arrivals[0] >= 2 * delay
    # had each chunk waited behind the delays of the earlier ones, the last would
    # come after chunks * 2 * delay (2 s); overlapping delays bring it near 0.5 s
    assert arrivals[-1] < 2 * delay + chunks * spacing + 0.5


def test_quick_run_sends_every_message_with_every_installed_client(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    arguments = ["--quick", "--servers", "sink,sink-chunking", "--time-box", "30"]
    args = run.parse_arguments([*arguments, "--memory-count", "300", "--output", str(output)])
    result = run.execute(args, "smoke")

    installed = {c.name for c in all_contenders() if c.missing() is None}
    assert "smtplib" in installed
    measured = [cell for cell in result.cells if cell.contender in installed]
    assert len(measured) == len(installed) * 2 * 2  # two servers, two links
    for cell in measured:
        assert not cell.note, cell
        assert cell.sent == cell.attempted > 0, cell
    report = output.read_text()
    assert "| smtplib |" in report
    if "smtp_backend send_many" in installed:
        assert result.memory is not None and result.memory["sent"] == 300
    else:
        pytest.skip("smtp_backend not importable: its cells and the memory run were skipped")
