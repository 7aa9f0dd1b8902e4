"""The servers the benchmark sends to, and the latency proxy, each as a child process.

Every ``start_*`` registers its process's stop on the caller's ``ExitStack``, so all of
them end with the run, on error too. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
POSTFIX_ROOT = WORK / "postfix"
EXIM_ROOT = WORK / "exim"
START_TIMEOUT = 10.0
# port -> the process listening on it, for the CPU accounting of the pool cells
LISTENERS: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Server:
    """A server the benchmark can start: ``start(stack)`` returns its port."""

    key: str
    description: str
    extensions: str
    start: Callable[[contextlib.ExitStack], int]
    missing: Callable[[], str | None]
    note: str = ""  # what a reader of the results must know about this server
    caps_one_connection: bool = False  # slower than every client on loopback


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {START_TIMEOUT}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _spawn(
    stack: contextlib.ExitStack, argv: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv``; a Python server's stdout is piped (it says READY), others' logged."""
    if argv[0] == sys.executable:
        output: int | object = subprocess.PIPE
    else:
        WORK.mkdir(exist_ok=True)
        output = stack.enter_context((WORK / f"{Path(argv[0]).name}.log").open("ab"))
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=output,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        env=env,
    )
    stack.callback(_stop, process)
    return process


def _start_python_server(stack: contextlib.ExitStack, argv: list[str]) -> int:
    """Start one of our own asyncio servers; they print ``READY <port>`` when listening."""
    process = _spawn(stack, [sys.executable, *argv])
    assert process.stdout is not None
    line = process.stdout.readline().decode()
    if not line.startswith("READY "):
        raise RuntimeError(f"{argv[0]} failed to start: {line!r}")
    port = int(line.split()[1])
    LISTENERS[port] = process
    return port


# -- the in-repo sink ---------------------------------------------------------------


def start_sink(stack: contextlib.ExitStack, chunking: bool = False) -> int:
    argv = [str(HERE / "sink_server.py")] + (["--chunking"] if chunking else [])
    return _start_python_server(stack, argv)


def start_proxy(stack: contextlib.ExitStack, target_port: int, delay: float) -> int:
    """A latency proxy in front of 127.0.0.1:target_port, ``delay`` seconds each way."""
    argv = [
        str(HERE / "latency_proxy.py"),
        "--target",
        f"127.0.0.1:{target_port}",
        "--delay",
        str(delay),
    ]
    return _start_python_server(stack, argv)


# -- Postfix smtp-sink ----------------------------------------------------------------


def _smtp_sink_binary() -> Path | None:
    extracted = POSTFIX_ROOT / "usr/sbin/smtp-sink"
    if extracted.exists():
        return extracted
    installed = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    return Path(installed) if Path(installed).exists() else None


def _version(root: Path, fallback: str) -> str:
    marker = root / ".version"
    return marker.read_text().strip() if marker.exists() else fallback


def smtp_sink_missing() -> str | None:
    if _smtp_sink_binary() is None:
        return "Postfix smtp-sink not found: run benchmarks/setup.sh"
    return None


def start_smtp_sink(stack: contextlib.ExitStack) -> int:
    binary = _smtp_sink_binary()
    assert binary is not None
    env = dict(os.environ)
    private_libs = POSTFIX_ROOT / "usr/lib/postfix"
    if private_libs.exists():  # the extracted binary needs Postfix's private libraries
        env["LD_LIBRARY_PATH"] = str(private_libs)
    port = _free_port()
    # -a: no AUTH offered; as root smtp-sink insists on dropping privileges (-u)
    argv = [str(binary), "-a"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    argv += [f"127.0.0.1:{port}", "256"]
    process = _spawn(stack, argv, env)
    _wait_listening(port, process, "smtp-sink")
    LISTENERS[port] = process
    return port


# -- Exim ------------------------------------------------------------------------------

EXIM_CONFIG = """\
# written by benchmarks/servers.py: accept everything on loopback, discard it
primary_hostname = exim-bench.localhost
daemon_smtp_ports = {port}
local_interfaces = 127.0.0.1
spool_directory = {spool}
log_file_path = {log}/%slog
pid_file_path = {run}/exim.pid
exim_user = Debian-exim
exim_group = Debian-exim
keep_environment =
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
pipelining_advertise_hosts = *
chunking_advertise_hosts = *
smtp_accept_max_per_connection = 0
queue_only = true
acl_smtp_rcpt = accept_every_recipient
acl_smtp_data = discard_every_message

begin acl
accept_every_recipient:
  accept
discard_every_message:
  discard

begin routers
discard_all:
  driver = redirect
  data = :blackhole:
"""


def _tmpfs() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _exim_binary() -> Path | None:
    extracted = EXIM_ROOT / "usr/sbin/exim4"
    return extracted if extracted.exists() else None


def exim_missing() -> str | None:
    if _exim_binary() is None:
        return "Exim not extracted: run benchmarks/setup.sh"
    if os.geteuid() != 0:
        return "Exim's daemon needs root here (it switches to the Debian-exim user)"
    return None


def start_exim(stack: contextlib.ExitStack) -> int:
    binary = _exim_binary()
    assert binary is not None
    run = WORK / "exim-run"
    log = run / "log"
    shutil.rmtree(run, ignore_errors=True)
    # Exim fsyncs every message's spool files; on tmpfs that costs nothing, and the
    # disk's fsync latency (milliseconds here) is not what the benchmark measures
    spool = Path(tempfile.mkdtemp(prefix="exim-bench-spool-", dir=_tmpfs()))
    stack.callback(shutil.rmtree, spool, ignore_errors=True)
    for folder in (spool, log):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "Debian-exim", "Debian-exim")
    port = _free_port()
    config = run / "exim.conf"
    config.write_text(EXIM_CONFIG.format(port=port, spool=spool, log=log, run=run))
    # -bdf: the daemon stays in the foreground, our child, so stopping it is a kill
    process = _spawn(stack, [str(binary), "-C", str(config), "-bdf", "-oX", str(port)])
    _wait_listening(port, process, "exim")
    LISTENERS[port] = process
    return port


SERVERS = {
    "smtp-sink": Server(
        "smtp-sink",
        f"Postfix smtp-sink {_version(POSTFIX_ROOT, '(system)')}",
        "PIPELINING",
        start_smtp_sink,
        smtp_sink_missing,
    ),
    "exim": Server(
        "exim",
        f"Exim {_version(EXIM_ROOT, '')} (exim4-daemon-light), DATA ACL discard",
        "PIPELINING, CHUNKING",
        start_exim,
        exim_missing,
        "Exim gives each message of a connection its own id and waits for its clock to "
        "tick (5 ms) before taking the next DATA/BDAT, so one connection to Exim tops out "
        "at 200 msg/s: on loopback its column measures Exim, not the clients. After QUIT "
        "it holds its 221 up to 200 ms for the client to close first (every cell times "
        "its QUIT). Its spool is on tmpfs (/dev/shm) so that disk fsyncs do not add to that.",
        caps_one_connection=True,
    ),
    "sink": Server(
        "sink",
        "in-repo asyncio sink (benchmarks/sink_server.py)",
        "PIPELINING",
        start_sink,
        lambda: None,
    ),
    "sink-chunking": Server(
        "sink-chunking",
        "in-repo asyncio sink (benchmarks/sink_server.py --chunking)",
        "PIPELINING, CHUNKING",
        lambda stack: start_sink(stack, chunking=True),
        lambda: None,
        "The in-repo sink with CHUNKING is run besides Exim because Exim caps one "
        "connection near 200 msg/s (see above); it is Python, so on loopback it shares "
        "the CPU with the client and its rates are lower than smtp-sink's.",
    ),
}
