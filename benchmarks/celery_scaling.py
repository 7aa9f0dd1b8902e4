"""Throughput of smtp_backend.celery with 1, 2 and 4 worker processes over a slow link.

    python benchmarks/celery_scaling.py [--messages 600] [--delay 0.010] [--processes 1 2 4]

Starts a private redis-server, the discarding sink server, the latency proxy in
front of it (``--delay`` seconds each way) and, for each count, one Celery worker
with that many prefork processes; queues the messages in batches and prints
messages/s from the first enqueue to the last result. Everything on 127.0.0.1.
This module is also the workers' Celery app (``celery -A benchmarks.celery_scaling``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from celery import Celery

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make smtp_backend importable
    sys.path.insert(0, str(REPO))
REDIS_ENVIRONMENT = "SMTP_BACKEND_BENCH_REDIS"
BATCH_SIZE = 50

app = Celery("smtp_backend_bench", set_as_current=False)
app.conf.update(
    broker_url=os.environ.get(REDIS_ENVIRONMENT, "redis://127.0.0.1:6379/0"),
    result_backend=os.environ.get(REDIS_ENVIRONMENT, "redis://127.0.0.1:6379/0"),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    imports=["smtp_backend.celery"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _process(argv: list[str], **options: object) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, start_new_session=True, **options)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        process.terminate()  # a worker's warm shutdown stops its pool processes itself
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(15)
        with contextlib.suppress(ProcessLookupError):  # anything left in its group
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _ready_port(process: subprocess.Popen[bytes]) -> int:
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line.startswith("READY "):
        raise RuntimeError(f"expected READY <port>, got {line!r}")
    return int(line.split()[1])


def _messages(count: int) -> list[object]:
    from smtp_backend import Envelope

    body = b"Subject: benchmark\r\nFrom: a@example.test\r\n\r\n" + (b"x" * 76 + b"\r\n") * 26
    return [Envelope("a@example.test", [f"r{n}@example.test"], body) for n in range(count)]


def measure(processes: int, count: int, redis_url: str, smtp_port: int, work: Path) -> float:
    """Messages/s for ``count`` messages through one worker of ``processes`` processes."""
    from smtp_backend.celery import enqueue

    log = work / f"worker-{processes}.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        REDIS_ENVIRONMENT: redis_url,
        "SMTP_BACKEND_URL": f"smtp://127.0.0.1:{smtp_port}?timeout=60",
    }
    argv = [sys.executable, "-m", "celery", "-A", "benchmarks.celery_scaling", "worker"]
    argv += ["--pool=prefork", f"--concurrency={processes}", "-l", "warning"]
    argv += [
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"b{processes}@%h",
    ]
    with (
        log.open("wb") as output,
        _process(argv, cwd=REPO, env=env, stdout=output, stderr=output) as worker,
    ):
        # -l warning hides "ready": wait for the worker to answer a ping instead.
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()[-2000:]}")
        items = _messages(count)
        started = time.perf_counter()
        batches = enqueue(items, batch_size=BATCH_SIZE, app=app)
        results = [result for batch in batches for result in batch.get(timeout=600)]
        seconds = time.perf_counter() - started
    sent = sum(1 for result in results if result["state"] == "sent")
    if sent != count:
        raise RuntimeError(f"{count - sent} of {count} messages not sent")
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--delay", type=float, default=0.010, help="seconds added each way")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    work = REPO / "benchmarks" / ".work"
    work.mkdir(exist_ok=True)
    redis_port = _free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    app.conf.update(broker_url=redis_url, result_backend=redis_url)
    redis_argv = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1"]
    redis_argv += ["--save", "", "--appendonly", "no"]
    pipe = {"stdout": subprocess.PIPE, "cwd": REPO}
    sink_argv = [sys.executable, "benchmarks/sink_server.py"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_process(redis_argv, stdout=subprocess.DEVNULL))
        sink_port = _ready_port(stack.enter_context(_process(sink_argv, **pipe)))
        proxy_argv = [sys.executable, "benchmarks/latency_proxy.py"]
        proxy_argv += ["--target", f"127.0.0.1:{sink_port}", "--delay", str(args.delay)]
        proxy_port = _ready_port(stack.enter_context(_process(proxy_argv, **pipe)))
        time.sleep(0.3)  # redis-server listening
        print(
            f"{args.messages} messages of 2 KB, batches of {BATCH_SIZE}, "
            f"{args.delay * 1000:g} ms each way"
        )
        baseline = None
        for processes in args.processes:
            rate = measure(processes, args.messages, redis_url, proxy_port, work)
            baseline = baseline or rate
            print(
                f"{processes} worker process(es): {rate:8.1f} messages/s  ({rate / baseline:.2f}x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
