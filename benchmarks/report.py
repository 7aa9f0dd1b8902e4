"""What a run measured, and how it is written: console lines and the Markdown report."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
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

    def baseline(self, cell: Cell, baseline_name: str) -> float | None:
        for other in self.cells:
            if (other.contender, other.server, other.link) == (
                baseline_name,
                cell.server,
                cell.link,
            ):
                return other.rate
        return None


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
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    found.append(f"smtp_backend at commit {commit or '?'}")
    return ", ".join(found)


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ratio(cell: Cell, run: Run, baseline_name: str) -> str:
    base = run.baseline(cell, baseline_name)
    if cell.rate is None or not base:
        return "—"
    return f"{cell.rate / base:.2f}x"


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
    return f"{cell.server:<14} {cell.link:<10} {cell.contender:<28} {outcome}"


def markdown(run: Run, baseline_name: str, links: tuple[str, str]) -> str:
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
    if run.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in run.notes), ""]
    return "\n".join(lines)
