"""Throughput of smtp_backend against smtplib, aiosmtplib, Django and Flask-Mail, side by side.

    python benchmarks/run.py             # the full run; writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick     # a smoke run in seconds (writes .work/RESULTS-quick.md)

See benchmarks/README.md for what each cell measures.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `benchmarks` and `smtp_backend` importable
    sys.path.insert(0, str(REPO))

from benchmarks import servers  # noqa: E402
from benchmarks.contenders import BASELINE, Contender, all_contenders  # noqa: E402
from benchmarks.memory import TARGET_MB, measure_in_subprocess  # noqa: E402
from benchmarks.messages import build_emails  # noqa: E402
from benchmarks.pool import measure_pool  # noqa: E402
from benchmarks.report import Cell, Run, console_line, markdown, pool_line  # noqa: E402
from benchmarks.targets import verdicts  # noqa: E402

LOOPBACK = "loopback"
WARM_UP = 3
CELERY_LIMIT = 300
DEFAULT_SERVERS = ("smtp-sink", "exim", "sink-chunking")
DEFAULT_POOL_SERVERS = ("smtp-sink", "sink-chunking")
DEFAULT_OUTPUT = REPO / "benchmarks" / "RESULTS.md"
QUICK_OUTPUT = servers.WORK / "RESULTS-quick.md"
T = TypeVar("T")


def time_boxed(items: Iterable[T], seconds: float) -> Iterator[T]:
    """Yield ``items`` until ``seconds`` have passed since the first one was taken."""
    deadline = time.perf_counter() + seconds
    for item in items:
        if time.perf_counter() > deadline:
            return
        yield item


def measure(
    contender: Contender, items: Sequence[Any], host_port: tuple[str, int], time_box: float
) -> tuple[int, float]:
    """(messages the server accepted, seconds the send took) for one timed send."""
    gc.collect()
    started = time.perf_counter()
    sent = contender.send(time_boxed(items, time_box), *host_port)
    return sent, time.perf_counter() - started


def run_cells(
    contenders: list[Contender],
    prepared: dict[str, Sequence[Any] | None],
    server: str,
    link: str,
    port: int,
    n: int,
    repeat: int,
    time_box: float,
) -> list[Cell]:
    """One cell per contender; with ``repeat`` > 1 the contenders take turns, round by
    round, so a burst of load on a shared machine hits them all alike; the median is kept.
    """
    cells = {
        c.name: Cell(c.name, server, link, attempted=len(prepared[c.name] or ()))
        for c in contenders
    }
    trials: dict[str, list[tuple[int, float]]] = {c.name: [] for c in contenders}
    for _ in range(repeat):
        for contender in contenders:
            cell, items = cells[contender.name], prepared[contender.name]
            if items is None:
                cell.note = contender.missing() or "not prepared"
                continue
            if cell.note:  # it failed in an earlier round
                continue
            try:
                trials[contender.name].append(
                    measure(contender, items[:n], ("127.0.0.1", port), time_box)
                )
            except Exception as error:  # one failing client must not end the comparison
                cell.note = f"error: {type(error).__name__}: {error}"[:160]
    for name, cell in cells.items():
        cell.attempted = min(cell.attempted, n)
        if trials[name] and not cell.note:
            rates = [sent / seconds for sent, seconds in trials[name]]
            cell.sent, cell.seconds = trials[name][rates.index(statistics.median_low(rates))]
    return list(cells.values())


def prepare_all(contenders: list[Contender], emails: list[Any]) -> dict[str, Sequence[Any] | None]:
    prepared: dict[str, Sequence[Any] | None] = {}
    for contender in contenders:
        prepared[contender.name] = None if contender.missing() else contender.prepare(emails)
    return prepared


def warm_up(contenders: list[Contender], prepared: dict[str, Any], port: int) -> None:
    """Send a few untimed messages with each client: imports and caches are not measured."""
    for contender in contenders:
        items = prepared[contender.name]
        if items is not None:
            with contextlib.suppress(Exception):  # the timed cell will report the failure
                contender.send(items[:WARM_UP], "127.0.0.1", port)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N, one run: a smoke test")
    parser.add_argument("--n", type=int, help="messages per loopback cell (default 500)")
    parser.add_argument("--n-proxied", type=int, help="messages per proxied cell (default 200)")
    parser.add_argument("--repeat", type=int, help="loopback runs per cell, median kept (3)")
    parser.add_argument("--time-box", type=float, help="seconds per proxied cell (default 30)")
    parser.add_argument("--delay", type=float, default=0.010, help="proxy delay each way (s)")
    parser.add_argument(
        "--servers",
        default=",".join(DEFAULT_SERVERS),
        help=f"comma-separated, from: {', '.join(servers.SERVERS)} (default %(default)s)",
    )
    parser.add_argument("--pool-sizes", default="1,4,16", help="Mailer pool cells (%(default)s)")
    parser.add_argument("--n-pool", type=int, help="messages per pool cell (default 2000)")
    parser.add_argument("--pool-time-box", type=float, help="seconds per pool cell (default 60)")
    parser.add_argument(
        "--pool-servers",
        default=",".join(DEFAULT_POOL_SERVERS),
        help="servers of the pool cells, through the proxy ('' for none; default %(default)s)",
    )
    parser.add_argument(
        "--celery",
        action=argparse.BooleanOptionalAction,
        help="run celery_scaling.py too (default: yes, but not with --quick)",
    )
    parser.add_argument("--memory-count", type=int, help="messages of the memory run (100000)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory run")
    parser.add_argument("--output", type=Path, help="where the Markdown report goes")
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = args.n or (30 if quick else 500)
    args.n_proxied = args.n_proxied or (10 if quick else 200)
    args.repeat = args.repeat or (1 if quick else 3)
    args.time_box = args.time_box or (5.0 if quick else 30.0)
    args.n_pool = args.n_pool or (200 if quick else 2_000)
    args.pool_time_box = args.pool_time_box or (10.0 if quick else 60.0)
    args.pool_sizes = [int(size) for size in args.pool_sizes.split(",") if size.strip()]
    args.pool_servers = [name.strip() for name in args.pool_servers.split(",") if name.strip()]
    args.memory_count = args.memory_count or (2_000 if quick else 100_000)
    args.celery = not quick if args.celery is None else args.celery
    args.output = args.output or (QUICK_OUTPUT if quick else DEFAULT_OUTPUT)
    args.servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in args.servers if name not in servers.SERVERS]
    if unknown:
        parser.error(f"unknown server(s): {', '.join(unknown)}")
    return args


def measure_memory(run: Run, stack: contextlib.ExitStack, count: int) -> None:
    from benchmarks.contenders.smtp_backend_client import MISSING

    missing = MISSING()
    if missing:
        run.memory_note = missing
        return
    # the fastest server available: the measurement is of the client
    key = next((k for k in ("smtp-sink", "sink") if not servers.SERVERS[k].missing()), "sink")
    server = servers.SERVERS[key]
    port = server.start(stack)
    try:
        result: dict[str, Any] = dict(measure_in_subprocess("127.0.0.1", port, count, 600))
    except Exception as error:
        run.memory_note = f"error: {type(error).__name__}: {error}"
        return
    result.update(server=server.description, target_mb=TARGET_MB)
    run.memory = result
    verdict = "within" if result["peak_rss_mb"] < TARGET_MB else "OVER"
    print(
        f"memory: {result['sent']:,.0f} messages via send_many, peak RSS "
        f"{result['peak_rss_mb']:.1f} MB ({verdict} the {TARGET_MB:.0f} MB target)"
    )


def measure_celery(delay: float) -> str:
    """celery_scaling.py's output (1, 2, 4 worker processes), or why it could not run."""
    if shutil.which("redis-server") is None:
        return "not run: redis-server not found"
    if importlib.util.find_spec("celery") is None:
        return "not run: celery not installed"
    argv = [sys.executable, str(REPO / "benchmarks" / "celery_scaling.py"), "--delay", str(delay)]
    try:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=CELERY_LIMIT)
    except subprocess.TimeoutExpired:
        return f"not run: celery_scaling.py took over {CELERY_LIMIT} s"
    if done.returncode:
        return f"failed (status {done.returncode}):\n{done.stderr[-1500:]}"
    print(done.stdout, end="")
    return done.stdout


def execute(args: argparse.Namespace, command: str) -> Run:
    """Measure every cell ``args`` asks for; every server started here is stopped here."""
    run = Run(command, args.n, args.n_proxied, args.repeat, args.time_box, args.delay)
    run.n_pool, run.pool_time_box = args.n_pool, args.pool_time_box
    proxied = f"{args.delay * 2000:g} ms RTT"
    contenders = all_contenders()
    emails = build_emails(max(args.n, args.n_proxied, args.n_pool))
    prepared = prepare_all(contenders, emails)
    for contender in contenders:
        if prepared[contender.name] is None:
            print(f"skipping {contender.name}: {contender.missing()}")
    with contextlib.ExitStack() as stack:
        for key in args.servers:
            server = servers.SERVERS[key]
            missing = server.missing()
            if missing:
                print(f"skipping server {key}: {missing}")
                run.notes.append(f"{server.description} not run: {missing}")
                continue
            run.servers[key] = f"{server.description} — {server.extensions}"
            if server.caps_one_connection:
                run.loopback_capped.add(key)
            if server.note:
                run.notes.append(server.note)
            port = server.start(stack)
            proxy_port = servers.start_proxy(stack, port, args.delay)
            warm_up(contenders, prepared, port)
            for link, link_port, n, repeat, box in (
                (LOOPBACK, port, args.n, args.repeat, float("inf")),
                (proxied, proxy_port, args.n_proxied, 1, args.time_box),
            ):
                for cell in run_cells(contenders, prepared, key, link, link_port, n, repeat, box):
                    run.cells.append(cell)
                    print(console_line(cell, run, BASELINE), flush=True)
            if key in args.pool_servers:
                watched = {"server": port, "proxy": proxy_port}
                pids = {name: servers.LISTENERS[p].pid for name, p in watched.items()}
                for size in args.pool_sizes:
                    cell = measure_pool(
                        size,
                        emails[: args.n_pool],
                        ("127.0.0.1", proxy_port),
                        args.pool_time_box,
                        pids,
                        key,
                        proxied,
                    )
                    run.pool_cells.append(cell)
                    print(pool_line(cell, run, BASELINE), flush=True)
        if args.no_memory:
            run.memory_note = "skipped (--no-memory)"
        else:
            measure_memory(run, stack, args.memory_count)
    if args.celery:
        run.celery_output = measure_celery(args.delay)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(markdown(run, BASELINE, (LOOPBACK, proxied), verdicts(run)))
    for verdict in verdicts(run):
        print(f"{verdict.word:<5} {verdict.target} [{verdict.server}]: {verdict.measured}")
    print(f"wrote {args.output}")
    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    # a TERM must unwind the ExitStack like an error does, so every server stops
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    given = argv if argv is not None else sys.argv[1:]
    execute(args, ("python benchmarks/run.py " + shlex.join(given)).strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
