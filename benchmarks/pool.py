"""The pooled Mailer cells: ``Mailer(pool_size=k).send`` of N messages over a slow link.

A cell is a fresh ``Mailer`` (connect, EHLO, every message, QUIT of every connection
inside the clock) sending the shared messages in successive ``send`` calls of
``pool_size * SLICE_PER_CONNECTION`` messages until N are sent or the time box has
passed; the pool keeps its connections open between calls. Each cell also records
the CPU its own process and the server and proxy processes used, as a share of one
core over the cell's wall time, and how busy the whole machine was (a share of all its
cores, other users included), to show which side, if any, was the bottleneck.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Sequence
from email.message import EmailMessage

from benchmarks.report import Cell, pool_contender

SLICE_PER_CONNECTION = 100  # messages per connection per send() call
TIMEOUT = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its reaped children so far."""
    with open(f"/proc/{pid}/stat") as stat:
        # the command name may hold spaces: the fields we want follow its closing ')'
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime are fields 14-17 of stat(5), 12-15 after the name
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of every core since boot; idle and iowait are not busy."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def measure_pool(
    pool_size: int,
    messages: Sequence[EmailMessage],
    host_port: tuple[str, int],
    time_box: float,
    watched: dict[str, int],
    server: str,
    link: str,
) -> Cell:
    """One cell; ``watched`` names the pids (server, proxy) whose CPU use is recorded."""
    import smtp_backend

    cell = Cell(pool_contender(pool_size), server, link, attempted=len(messages))
    mailer = smtp_backend.Mailer(
        *host_port,
        security="none",
        pool_size=pool_size,
        local_hostname="localhost",
        timeout=TIMEOUT,
        # the cell measures the pool, not reconnects every 100 messages (the default)
        max_messages_per_connection=len(messages),
    )
    slice_size = pool_size * SLICE_PER_CONNECTION
    gc.collect()
    cpu_before = {name: process_cpu_seconds(pid) for name, pid in watched.items()}
    client_before = time.process_time()
    busy_before, total_before = machine_busy_ticks()
    started = time.perf_counter()
    try:
        deadline = started + time_box
        for start in range(0, len(messages), slice_size):
            if time.perf_counter() > deadline:
                break
            results = mailer.send(messages[start : start + slice_size])
            cell.sent += sum(1 for result in results if result.ok)
    finally:
        mailer.close()
    cell.seconds = time.perf_counter() - started
    used = {"client": time.process_time() - client_before}
    used.update(
        {name: process_cpu_seconds(pid) - cpu_before[name] for name, pid in watched.items()}
    )
    cell.cpu = {name: seconds / cell.seconds for name, seconds in used.items()}
    busy_after, total_after = machine_busy_ticks()
    # every core of the machine, other users' processes included: near 100 % means starved
    cell.cpu["machine"] = (busy_after - busy_before) / max(1, total_after - total_before)
    return cell
