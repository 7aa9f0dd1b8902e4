"""The speed targets set by the project's issues, judged against one run's cells.

Each target is a ratio of two rates measured side by side in the same run (or, for
memory, a ceiling); a verdict is given per server, since each server is its own cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.contenders import BASELINE, PEERS
from benchmarks.contenders.smtp_backend_client import MAILER, SEND_MANY
from benchmarks.report import Run, pool_contender

LOOPBACK = "loopback"


@dataclass(frozen=True)
class Verdict:
    target: str
    server: str
    measured: str
    passed: bool | None  # None: not measurable here (the note says why)
    note: str = ""

    @property
    def word(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


def _ratio_target(
    run: Run,
    target: str,
    mine: str,
    theirs: str,
    threshold: float,
    proxied: bool,
) -> list[Verdict]:
    verdicts = []
    for server in run.servers:
        link = next((c.link for c in run.cells if c.link != LOOPBACK), "") if proxied else LOOPBACK
        ratio = run.ratio(mine, theirs, server, link)
        if ratio is None:
            continue
        if not proxied and server in run.loopback_capped:
            # the server caps one connection below every client: the ratio measures it
            verdicts.append(Verdict(target, server, f"{ratio:.2f}x", None, "server-capped"))
            continue
        verdicts.append(Verdict(target, server, f"{ratio:.2f}x", ratio >= threshold))
    return verdicts


# issue 16: on loopback, where the client's CPU is the limit
LOOPBACK_THRESHOLDS = {
    "django_smtp_backend EmailBackend": 2.5,
    "flask_smtp_backend Mail": 3.0,
    SEND_MANY: 2.5,
    MAILER: 2.5,
}


def _framework_targets(run: Run) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for mine, theirs in PEERS.items():
        for threshold, proxied, where in (
            (LOOPBACK_THRESHOLDS[mine], False, "loopback"),
            (3.5, True, "10 ms proxy"),
        ):
            target = f"{mine} >= {threshold:g}x {theirs}, {where}"
            verdicts += _ratio_target(run, target, mine, theirs, threshold, proxied)
    return verdicts


def _client_targets(run: Run) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for mine in (SEND_MANY, MAILER):
        threshold = LOOPBACK_THRESHOLDS[mine]
        target = f"{mine} >= {threshold:g}x {BASELINE}, loopback"
        verdicts += _ratio_target(run, target, mine, BASELINE, threshold, proxied=False)
    return verdicts


def _capped_server_targets(run: Run) -> list[Verdict]:
    """Issue 16, on a server that caps one connection (Exim): the integrations at least
    match their peers on loopback (reconnects hidden); at 20 ms RTT, 300+ messages over
    one connection with CHUNKING reach 15x smtplib."""
    verdicts: list[Verdict] = []
    proxied = next((c.link for c in run.cells if c.link != LOOPBACK), "")
    for server in sorted(run.loopback_capped):
        for mine, theirs in PEERS.items():
            ratio = run.ratio(mine, theirs, server, LOOPBACK)
            if ratio is not None:
                target = f"{mine} >= 1x {theirs}, loopback (server-capped)"
                verdicts.append(Verdict(target, server, f"{ratio:.2f}x", ratio >= 1.0))
        if run.n_proxied < 300:
            continue  # the target is for 300+ messages on the connection
        for mine in (MAILER, SEND_MANY):
            ratio = run.ratio(mine, BASELINE, server, proxied)
            if ratio is not None:
                target = f"{mine} >= 15x {BASELINE}, 10 ms proxy, {run.n_proxied} messages"
                verdicts.append(Verdict(target, server, f"{ratio:.2f}x", ratio >= 15.0))
    return verdicts


# Mailer pool_size=16 over pool_size=1: an earlier issue's 12x where the server is not
# the limit; issue 16's 4x on the in-repo Python sink, which shares the 2 cores.
POOL_THRESHOLDS = {"sink-chunking": 4.0}


def _pool_targets(run: Run) -> list[Verdict]:
    verdicts: list[Verdict] = []
    big, one = pool_contender(16), pool_contender(1)
    for server in dict.fromkeys(c.server for c in run.pool_cells):
        link = next(c.link for c in run.pool_cells if c.server == server)
        for theirs, threshold in ((one, POOL_THRESHOLDS.get(server, 12.0)), (BASELINE, 40.0)):
            ratio = run.ratio(big, theirs, server, link)
            if ratio is not None:
                target = f"{big} >= {threshold:g}x {theirs}, 10 ms proxy"
                verdicts.append(Verdict(target, server, f"{ratio:.2f}x", ratio >= threshold))
    return verdicts


def _memory_target(run: Run) -> list[Verdict]:
    if run.memory is None:
        return []
    peak, ceiling = run.memory["peak_rss_mb"], run.memory["target_mb"]
    target = f"send_many of {run.memory['sent']:,.0f} messages: peak RSS < {ceiling:g} MB"
    return [Verdict(target, run.memory["server"], f"{peak:.1f} MB", peak < ceiling)]


JUDGES: tuple[Callable[[Run], list[Verdict]], ...] = (
    _client_targets,
    _framework_targets,
    _capped_server_targets,
    _pool_targets,
    _memory_target,
)


def verdicts(run: Run) -> list[Verdict]:
    return [verdict for judge in JUDGES for verdict in judge(run)]
