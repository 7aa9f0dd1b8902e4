"""Peak memory of ``send_many`` over many messages from a generator, in a fresh process.

Run as a program against a running server it prints one JSON object:
``{"sent": ..., "seconds": ..., "baseline_rss_mb": ..., "peak_rss_mb": ...}``
where the baseline is the process's maximum RSS after the imports, before sending.

    python -m benchmarks.memory --port 2525 --count 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_MB = 100.0


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(host: str, port: int, count: int) -> dict[str, float]:
    import smtp_backend
    from benchmarks.messages import envelope_fields

    baseline = _max_rss_mb()
    envelopes = (
        smtp_backend.Envelope(sender, recipients, data)
        for sender, recipients, data in envelope_fields(count)
    )
    started = time.perf_counter()
    with smtp_backend.SMTP(host, port, local_hostname="localhost", timeout=60) as client:
        results = client.send_many(envelopes)
        sent = sum(1 for result in results if result.ok)
    return {
        "sent": sent,
        "seconds": time.perf_counter() - started,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _max_rss_mb(),
    }


def measure_in_subprocess(host: str, port: int, count: int, timeout: float) -> dict[str, float]:
    """Run ``measure`` in a fresh interpreter, so nothing else inflates its peak."""
    argv = [sys.executable, "-m", "benchmarks.memory", "--host", host, "--port", str(port)]
    # Linux carries ru_maxrss across exec, so a child forked from this (large) process
    # would start with our peak; a shell that forks it in turn hands it a fresh count
    via_shell = ["/bin/sh", "-c", '"$0" "$@"; exit $?']
    completed = subprocess.run(
        [*via_shell, *argv, "--count", str(count)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.strip().splitlines()[-1] if completed.stderr else "?")
    result: dict[str, float] = json.loads(completed.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(measure(args.host, args.port, args.count)))


if __name__ == "__main__":
    main()
