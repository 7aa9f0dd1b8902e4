"""Where the client's CPU goes: ``cProfile`` of one ``send_many`` against a loopback sink.

    python benchmarks/profile_send.py --n 3000 --top 15

Prints the top entries by own time and by cumulative time, and the wall time of the
send with and without the profiler. The server is Postfix's smtp-sink when
``setup.sh`` has fetched it, otherwise the in-repo asyncio sink.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `benchmarks` and `smtp_backend` importable
    sys.path.insert(0, str(REPO))

from benchmarks import servers  # noqa: E402
from benchmarks.contenders.smtp_backend_client import send_many  # noqa: E402
from benchmarks.messages import build_emails  # noqa: E402


def top_entries(profile: cProfile.Profile, sort: str, count: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(count)
    # keep the table: drop pstats' preamble up to the column header
    text = out.getvalue()
    return text[text.index("   ncalls") :].rstrip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="messages (default %(default)s)")
    parser.add_argument("--top", type=int, default=15, help="entries shown (default %(default)s)")
    args = parser.parse_args()
    key = "smtp-sink" if not servers.SERVERS["smtp-sink"].missing() else "sink"
    emails = build_emails(args.n)
    with contextlib.ExitStack() as stack:
        port = servers.SERVERS[key].start(stack)
        send_many(emails[:3], "127.0.0.1", port)  # imports and caches are not measured
        gc.collect()
        started = time.perf_counter()
        sent = send_many(emails, "127.0.0.1", port)
        plain = time.perf_counter() - started
        profile = cProfile.Profile()
        gc.collect()
        started = time.perf_counter()
        profile.runcall(send_many, emails, "127.0.0.1", port)
        profiled = time.perf_counter() - started
    print(f"send_many of {args.n} messages to {key}: {sent} sent, {plain:.2f} s")
    print(f"({profiled:.2f} s under the profiler)\n")
    print(f"by own time:\n{top_entries(profile, 'tottime', args.top)}\n")
    print(f"by cumulative time:\n{top_entries(profile, 'cumulative', args.top)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
