"""What a run measured, and how it is written: console lines and the Markdown report."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import PEERS

REPO = Path(__file__).resolve().parent.parent
COMMIT_ENVIRONMENT = "BENCH_COMMIT"
CPU_COLUMNS = ("client", "server", "proxy", "machine")
PEER_DISTRIBUTIONS = ("aiosmtplib", "Django", "Flask-Mail", "Flask")


@dataclass
class Cell:
    """One contender against one server over one link."""

    contender: str
    server: str
    link: str
    sent: int = 0
    attempted: int = 0
    seconds: float = 0.0
    note: str = ""  # why there is no rate: skipped, or the error that ended it
    cpu: dict[str, float] = field(default_factory=dict)  # process -> share of one core

    @property
    def rate(self) -> float | None:
        if self.note or not self.seconds:
            return None
        return self.sent / self.seconds


@dataclass
class Run:
    """Everything one invocation measured, in the order it measured it."""

    command: str
    n_loopback: int
    n_proxied: int
    repeat: int
    time_box: float
    delay: float
    servers: dict[str, str] = field(default_factory=dict)  # key -> description
    cells: list[Cell] = field(default_factory=list)
    memory: dict[str, Any] | None = None
    memory_note: str = ""
    notes: list[str] = field(default_factory=list)
    load_at_start: str = field(default_factory=lambda: load_average())
    n_pool: int = 0
    pool_time_box: float = 0.0
    pool_cells: list[Cell] = field(default_factory=list)
    loopback_capped: set[str] = field(default_factory=set)  # servers that cap one connection
    celery_output: str = ""

    def cell(self, contender: str, server: str, link: str) -> Cell | None:
        for other in (*self.cells, *self.pool_cells):
            if (other.contender, other.server, other.link) == (contender, server, link):
                return other
        return None

    def rate_of(self, contender: str, server: str, link: str) -> float | None:
        found = self.cell(contender, server, link)
        return None if found is None else found.rate

    def baseline(self, cell: Cell, baseline_name: str) -> float | None:
        return self.rate_of(baseline_name, cell.server, cell.link)

    def ratio(self, contender: str, other: str, server: str, link: str) -> float | None:
        """``contender``'s rate over ``other``'s, both measured in this run on one cell."""
        mine, theirs = self.rate_of(contender, server, link), self.rate_of(other, server, link)
        return None if mine is None or not theirs else mine / theirs


def cpu_model() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def load_average() -> str:
    """The 1-minute load: above the core count, loopback rates are shared with others."""
    return f"{os.getloadavg()[0]:.1f}"


def versions() -> str:
    found = []
    for name in PEER_DISTRIBUTIONS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    # a run from an exported snapshot (no .git) names its commit in the environment
    commit = (
        os.environ.get(COMMIT_ENVIRONMENT)
        or subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    )
    found.append(f"smtp_backend at commit {commit or '?'}")
    return ", ".join(found)


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def pool_contender(pool_size: int) -> str:
    return f"Mailer pool_size={pool_size}"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _ratio(cell: Cell, run: Run, baseline_name: str) -> str:
    base = run.baseline(cell, baseline_name)
    return _times(cell.rate / base if cell.rate is not None and base else None)


def _short(note: str) -> str:
    """A table cell's note: the reason without the exception detail (see the console)."""
    return note.split(" (")[0]


def console_line(cell: Cell, run: Run, baseline_name: str) -> str:
    if cell.note:
        outcome = cell.note
    else:
        outcome = f"{_rate(cell.rate):>8} msg/s  {_ratio(cell, run, baseline_name):>7} smtplib"
        if cell.sent < cell.attempted:
            outcome += f"  (time box: {cell.sent}/{cell.attempted} sent)"
        peer = PEERS.get(cell.contender)
        if peer is not None:
            versus = run.ratio(cell.contender, peer, cell.server, cell.link)
            outcome += f"  {_times(versus)} {peer}"
    return f"{cell.server:<14} {cell.link:<10} {cell.contender:<33} {outcome}"


def pool_line(cell: Cell, run: Run, baseline_name: str) -> str:
    one = run.rate_of(pool_contender(1), cell.server, cell.link)
    outcome = (
        f"{_rate(cell.rate):>8} msg/s  {_times(cell.rate / one if cell.rate and one else None):>7} "
        f"pool_size=1  {_ratio(cell, run, baseline_name):>7} smtplib  CPU {_cpu(cell)}"
    )
    if cell.sent < cell.attempted:
        outcome += f"  (time box: {cell.sent}/{cell.attempted} sent)"
    return f"{cell.server:<14} {cell.link:<10} {cell.contender:<33} {outcome}"


def _cpu(cell: Cell) -> str:
    return ", ".join(f"{name} {share:.0%}" for name, share in cell.cpu.items())


def _framework_section(run: Run, links: tuple[str, str]) -> list[str]:
    """Our Django and Flask integrations over the framework's own path, cell by cell."""
    if not any(run.cell(mine, s, links[0]) for mine in PEERS for s in run.servers):
        return []
    heads = [f"{mine} / {theirs}" for mine, theirs in PEERS.items()]
    lines = [
        "## Our framework integrations against the framework's own (ours / theirs)",
        "",
        "Both rows of a ratio come from the same run, server and link (tables above).",
        "",
        "| server | link | " + " | ".join(heads) + " |",
        "|---|---|" + "---:|" * len(heads),
    ]
    for server in run.servers:
        for link in links:
            ratios = [
                _times(run.ratio(mine, theirs, server, link)) for mine, theirs in PEERS.items()
            ]
            lines.append(f"| {server} | {link} | " + " | ".join(ratios) + " |")
    return [*lines, ""]


def _pool_section(run: Run, baseline_name: str) -> list[str]:
    if not run.pool_cells:
        return []
    lines = [
        "## Mailer pool through the latency proxy",
        "",
        f"`Mailer(pool_size=k).send` of N = {run.n_pool:,} messages (time box "
        f"{run.pool_time_box:g} s), in `send` calls of 100 messages per connection, "
        "connections kept open between calls (`max_messages_per_connection=N`); a fresh "
        "Mailer per cell, its connects and QUITs timed. x smtplib: smtplib's one "
        "connection through the same proxy to the same server (tables above). CPU: share "
        "of one core used during the cell by this process (client), the server and the "
        f"proxy; machine busy: share of all {os.cpu_count()} cores busy during the cell, "
        "other users' processes included (near 100 %: every process was starved of CPU).",
        "",
    ]
    for server in dict.fromkeys(cell.server for cell in run.pool_cells):
        lines += [
            f"### {run.servers.get(server, server)}",
            "",
            "| pool_size | msg/s | x pool_size=1 | x smtplib | CPU client | CPU server "
            "| CPU proxy | machine busy |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for cell in (c for c in run.pool_cells if c.server == server):
            one = run.rate_of(pool_contender(1), server, cell.link)
            rate = _rate(cell.rate) if not cell.note else _short(cell.note)
            if cell.sent < cell.attempted:
                rate += f" ({cell.sent} sent in the box)"
            shares = [f"{cell.cpu[name]:.0%}" if name in cell.cpu else "—" for name in CPU_COLUMNS]
            lines.append(
                f"| {cell.contender.split('=')[1]} | {rate} | "
                f"{_times(cell.rate / one if cell.rate and one else None)} | "
                f"{_ratio(cell, run, baseline_name)} | " + " | ".join(shares) + " |"
            )
        lines.append("")
    return lines


def _targets_section(verdicts: list[Any]) -> list[str]:
    if not verdicts:
        return []
    lines = ["## Targets", "", "| target | server | measured | verdict |", "|---|---|---:|---|"]
    for verdict in verdicts:
        word = verdict.word + (f" ({verdict.note})" if verdict.note else "")
        lines.append(f"| {verdict.target} | {verdict.server} | {verdict.measured} | {word} |")
    return [*lines, ""]


def markdown(
    run: Run, baseline_name: str, links: tuple[str, str], verdicts: Sequence[Any] = ()
) -> str:
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{run.command}` on {today}.",
        "",
        f"- Machine: {machine()}; load average {run.load_at_start} at the start, "
        f"{load_average()} at the end",
        f"- Peers: {versions()}",
        f"- Messages: the same pre-built ~2 KB messages, one recipient each, all over one "
        f"connection per cell; N = {run.n_loopback} on loopback (median of {run.repeat} runs), "
        f"N = {run.n_proxied} through the latency proxy (one run, time box {run.time_box:g} s: "
        "a slow client's rate is what it sent in the box).",
        f"- Latency: `benchmarks/latency_proxy.py`, {run.delay * 1000:g} ms each way "
        f"({run.delay * 2000:g} ms round trip), on loopback.",
        "",
        *_targets_section(list(verdicts)),
    ]
    for key, description in run.servers.items():
        lines += [
            f"## {description}",
            "",
            f"| client | {links[0]} msg/s | x smtplib | {links[1]} msg/s | x smtplib |",
            "|---|---:|---:|---:|---:|",
        ]
        names = dict.fromkeys(cell.contender for cell in run.cells if cell.server == key)
        for name in names:
            row = [name]
            for link in links:
                cell = next(
                    (c for c in run.cells if (c.contender, c.server, c.link) == (name, key, link)),
                    None,
                )
                if cell is None or cell.note:
                    row += [_short(cell.note) if cell else "not run", ""]
                else:
                    rate = _rate(cell.rate)
                    if cell.sent < cell.attempted:
                        rate += f" ({cell.sent} sent in the box)"
                    row += [rate, _ratio(cell, run, baseline_name)]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines += _framework_section(run, links)
    lines += _pool_section(run, baseline_name)
    lines += ["## Peak memory of `send_many`", ""]
    if run.memory is not None:
        memory = run.memory
        lines.append(
            f"{memory['sent']:,.0f} messages from a generator through `send_many` on one "
            f"connection ({memory['server']}): peak RSS {memory['peak_rss_mb']:.1f} MB "
            f"(after imports, before sending: {memory['baseline_rss_mb']:.1f} MB); "
            f"target under {memory['target_mb']:.0f} MB; {memory['seconds']:.1f} s."
        )
    else:
        lines.append(f"Not measured: {run.memory_note}")
    lines.append("")
    if run.celery_output:
        lines += [
            "## Celery workers through the latency proxy",
            "",
            "`python benchmarks/celery_scaling.py` run by this run (one worker, k prefork "
            "processes, the in-repo sink behind the proxy, batches of 50):",
            "",
            "```",
            run.celery_output.strip(),
            "```",
            "",
        ]
    if run.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in run.notes), ""]
    return "\n".join(lines)
