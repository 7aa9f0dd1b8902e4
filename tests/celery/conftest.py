"""A real Redis and real Celery worker processes on loopback, for the tests in this folder.

Skipped when redis-server, celery or redis-py is missing, unless
``SMTP_BACKEND_REQUIRE_CELERY=1`` (as CI sets it): then a missing part is an error.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest


def _missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    for module in ("celery", "redis"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'smtp-backend[celery]')"
    return None


_MISSING = _missing()
if _MISSING is not None:
    if os.environ.get("SMTP_BACKEND_REQUIRE_CELERY") == "1":
        raise RuntimeError(f"SMTP_BACKEND_REQUIRE_CELERY=1 but {_MISSING}")
    pytest.skip(_MISSING, allow_module_level=True)

import redis  # noqa: E402

from tests.celery.app import REDIS_ENVIRONMENT, make_app  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SETTLE = 0.05  # seconds for what a just-frozen worker wrote to reach Redis
REDIS_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A private redis-server on loopback, without persistence; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", *REDIS_NO_PERSISTENCE],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test (queues, results, ledger, buckets)."""
    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


@pytest.fixture
def celery_app(redis_url: str) -> Any:
    """The producer's app: same broker and result backend as the workers."""
    app = make_app(redis_url)
    yield app
    app.close()


class Worker:
    """``celery worker --pool=prefork`` in its own process group; its log in ``log``."""

    def __init__(self, name: str, env: dict[str, str], log: Path, concurrency: int) -> None:
        self.name = name
        self.log = log
        argv = [sys.executable, "-m", "celery", "-A", "tests.celery.worker_app", "worker"]
        argv += ["--pool=prefork", f"--concurrency={concurrency}", "-l", "info", "-n", name]
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its pool's children share its process group
            )

    def wait_ready(self) -> Worker:
        deadline = time.monotonic() + START_TIMEOUT
        while b" ready." not in self.log.read_bytes():
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready in {START_TIMEOUT}s:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    def kill(self, in_transit: Callable[[], Collection[str]] = tuple) -> None:
        """SIGKILL the whole worker, pool processes included: as a machine that dies.

        kombu's Redis transport takes a message off the queue (BRPOP) before it records
        it as unacknowledged; a worker killed in between loses that batch whatever this
        package does (celery/kombu#305). So the worker is frozen (SIGSTOP) and thawed
        again until ``in_transit()`` (the batches it took but has not recorded) is empty,
        then killed: the kill lands where kombu holds every batch it took.
        """
        deadline = time.monotonic() + STOP_TIMEOUT
        try:
            while True:
                self._signal(signal.SIGSTOP)
                self._wait_frozen(deadline)
                time.sleep(SETTLE)
                taken = in_transit()
                if not taken or time.monotonic() > deadline:
                    break
                self._signal(signal.SIGCONT)
                time.sleep(0.001)
        finally:  # never leave a frozen worker behind
            self._signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)
        if taken:
            raise RuntimeError(f"worker killed holding batches it had not recorded: {taken}")

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, number)

    def _wait_frozen(self, deadline: float) -> None:
        """Until the main process (the one that takes messages) is stopped, or has exited."""
        stat = Path(f"/proc/{self.process.pid}/stat")
        while time.monotonic() < deadline and self.process.poll() is None:
            with contextlib.suppress(FileNotFoundError):
                if stat.read_text().rpartition(")")[2].split()[0] in ("T", "t", "Z"):
                    return
            time.sleep(0.001)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM): tasks finish, pool processes run their shutdown."""
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def wait_stopped(self) -> None:
        """Wait for a terminated worker; then SIGKILL it and any pool process left behind."""
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        self._signal(signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(STOP_TIMEOUT)


WorkerFactory = Callable[..., Worker]


@pytest.fixture
def start_worker(redis_url: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """``start_worker(smtp_url, concurrency=2, **env)`` -> a ready Worker; all stopped after."""
    workers: list[Worker] = []

    def start(smtp_url: str, concurrency: int = 2, **env: str) -> Worker:
        path = os.pathsep.join([str(REPO), str(REPO / "integrations")])
        environment = {
            **os.environ,
            "PYTHONPATH": path,
            REDIS_ENVIRONMENT: redis_url,
            "SMTP_BACKEND_URL": smtp_url,
            **env,
        }
        name = f"worker{len(workers) + 1}@%h"
        worker = Worker(name, environment, tmp_path / f"worker{len(workers) + 1}.log", concurrency)
        workers.append(worker)
        return worker.wait_ready()

    yield start
    for worker in workers:  # all at once: their shutdowns overlap
        worker.terminate()
    for worker in workers:
        worker.wait_stopped()
