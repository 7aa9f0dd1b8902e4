"""Run CPython's own ``test.test_smtplib`` against an smtplib-compatible module.

The module under test is installed as ``sys.modules["smtplib"]`` before the suite is
imported, so every ``smtplib.X`` in the suite (including its ``smtplib.socket =
mock_socket`` patching) reaches that module. Failures listed in
``known_differences.txt`` are reported but do not fail the run; a listed test that
passes does, so the list cannot go stale.

    python tests/conformance/run_cpython_smtplib.py [--module smtp_backend] [-v] [-k PATTERN]

Exit status: 0 passed, 1 unexpected failures, 2 the module or the suite failed to
import, 77 the suite is not available on this interpreter.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import socket
import sys
import unittest
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
KNOWN_DIFFERENCES_FILE = HERE / "known_differences.txt"
SUITE_NAME = "test.test_smtplib"
SUITE_PREFIX = SUITE_NAME + "."
SOCKET_PATCH_CHECK_ID = "runner.socket_patch_reaches_client"

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_IMPORT_ERROR = 2
EXIT_SUITE_UNAVAILABLE = 77

# Modules the suite imports besides smtplib; their absence means "no test suite here".
SUITE_DEPENDENCIES = ("test", "asyncore", "asynchat", "smtpd")


class SuiteUnavailable(Exception):
    """This interpreter cannot run the CPython suite (not installed, no sockets)."""


@dataclass(frozen=True)
class Outcome:
    """What one run of the suite came to, by short test id (``Class.method``)."""

    ran: frozenset[str]
    skipped: frozenset[str]
    failing: frozenset[str]

    @property
    def passed(self) -> int:
        return len(self.ran - self.skipped - self.failing)


def short_id(test_id: str) -> str:
    return test_id.removeprefix(SUITE_PREFIX)


def read_known_differences(path: Path) -> dict[str, str]:
    """Map each listed test id to its reason (``Class.method  # reason`` per line)."""
    known: dict[str, str] = {}
    if not path.exists():
        return known
    for line in path.read_text(encoding="utf-8").splitlines():
        test_id, _, reason = line.partition("#")
        if test_id.strip():
            known[short_id(test_id.strip())] = reason.strip()
    return known


def install_as_smtplib(module_name: str) -> ModuleType:
    """Import the module under test, then make ``import smtplib`` return it."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    # Imported first: the module may itself subclass the real smtplib's classes.
    module = importlib.import_module(module_name)
    sys.modules["smtplib"] = module
    sys.modules.pop(SUITE_NAME, None)
    return module


def import_suite() -> ModuleType:
    try:
        if importlib.util.find_spec(SUITE_NAME) is None:
            raise SuiteUnavailable(f"{SUITE_NAME} is not installed for {sys.executable}")
        return importlib.import_module(SUITE_NAME)
    except unittest.SkipTest as skip:
        raise SuiteUnavailable(f"{SUITE_NAME} skips itself here: {skip}") from skip
    except ModuleNotFoundError as missing:
        if (missing.name or "").partition(".")[0] in SUITE_DEPENDENCIES:
            raise SuiteUnavailable(f"{SUITE_NAME} needs {missing.name}: {missing}") from missing
        raise


def socket_patch_problem(module: ModuleType) -> str | None:
    """Say why ``module.socket = mock_socket`` would not reach ``module.SMTP``, if it would not.

    The suite's mocked tests patch the attribute on the module object and expect the
    client to connect through it; otherwise they exercise real sockets, not the mock.
    """
    from test import mock_socket

    original = getattr(module, "socket", None)
    if original is not socket:
        return f"{module.__name__}.socket is {original!r}, not the socket module"
    module.socket = mock_socket  # type: ignore[attr-defined]
    mock_socket.reply_with(b"220 socket patch probe")
    try:
        client = module.SMTP("localhost", 25, local_hostname="probe", timeout=5)
    except Exception as error:
        return f"after patching {module.__name__}.socket, SMTP() still raised {error!r}"
    else:
        connected = client.sock
        client.close()
        if not isinstance(connected, mock_socket.MockSocket):
            return f"after patching {module.__name__}.socket, SMTP().sock is {connected!r}"
        return None
    finally:
        mock_socket.reply_with(None)
        module.socket = original  # type: ignore[attr-defined]


def collected_ids(suite: unittest.TestSuite) -> Iterator[str]:
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from collected_ids(test)
        else:
            yield short_id(test.id())


def short_ids(tests: Iterable[unittest.TestCase]) -> frozenset[str]:
    """Short ids of these tests; a subtest stands for the test that holds it."""
    return frozenset(short_id(getattr(test, "test_case", test).id()) for test in tests)


def run_suite(suite_module: ModuleType, verbosity: int, patterns: list[str]) -> Outcome:
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [f"*{pattern}*" for pattern in patterns]
    suite = loader.loadTestsFromModule(suite_module)
    # Read before running: a suite drops its tests as it runs them.
    ran = frozenset(collected_ids(suite))
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity).run(suite)
    failed = [test for test, _ in (*result.failures, *result.errors)]
    return Outcome(
        ran=ran,
        skipped=short_ids(test for test, _ in result.skipped),
        failing=short_ids([*failed, *result.unexpectedSuccesses]),
    )


def print_ids(title: str, ids: Iterable[str], reasons: Mapping[str, str]) -> None:
    listed = sorted(ids)
    if not listed:
        return
    print(f"{title} ({len(listed)}):")
    for test_id in listed:
        reason = reasons.get(test_id)
        print(f"  {test_id}" + (f"  # {reason}" if reason else ""))


def report(module: ModuleType, outcome: Outcome, known: Mapping[str, str]) -> int:
    """Print the summary and return the exit status it deserves."""
    version = sys.version.split()[0]
    print(f"CPython {SUITE_NAME} (Python {version}) against {module.__name__}")
    return verdict(outcome, known, KNOWN_DIFFERENCES_FILE.name)


def verdict(outcome: Outcome, known: Mapping[str, str], list_name: str) -> int:
    """Print the counts and what differs from the list ``list_name``; the exit status."""
    print(
        f"ran {len(outcome.ran)}: {outcome.passed} passed, "
        f"{len(outcome.failing)} failed or errored, {len(outcome.skipped)} skipped"
    )
    unexpected = outcome.failing - known.keys()
    # A listed test that did not run here (other Python version, -k) is not stale.
    stale = (known.keys() & outcome.ran) - outcome.failing
    print_ids("known differences, failing as listed", outcome.failing & known.keys(), known)
    print_ids(f"FAILING, not in {list_name}", unexpected, {})
    print_ids(f"PASSING but listed in {list_name}: remove them", stale, known)
    if not outcome.ran:
        print("no test ran")
        return EXIT_FAILED
    return EXIT_FAILED if unexpected or stale else EXIT_PASSED


def add_suite_arguments(parser: argparse.ArgumentParser, known_differences: Path) -> None:
    """The options every conformance runner takes: its list, -v, -k."""
    parser.add_argument("--known-differences", type=Path, default=known_differences, metavar="FILE")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    parser.add_argument(
        "-k", dest="patterns", action="append", default=[], help="run only matching tests"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="smtp_backend", help="module to test as smtplib")
    add_suite_arguments(parser, KNOWN_DIFFERENCES_FILE)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        module = install_as_smtplib(args.module)
        suite_module = import_suite()
    except SuiteUnavailable as unavailable:
        print(f"SKIP: {unavailable}")
        return EXIT_SUITE_UNAVAILABLE
    except Exception as error:
        print(f"{SUITE_NAME} cannot be imported against {args.module}: {error!r}")
        return EXIT_IMPORT_ERROR
    patch_problem = socket_patch_problem(module)
    outcome = run_suite(suite_module, 2 if args.verbose else 1, args.patterns)
    if patch_problem:
        print(f"{SOCKET_PATCH_CHECK_ID}: {patch_problem}")
        print("  so the suite's mock_socket tests do not test the module's own I/O")
        outcome = Outcome(
            ran=outcome.ran | {SOCKET_PATCH_CHECK_ID},
            skipped=outcome.skipped,
            failing=outcome.failing | {SOCKET_PATCH_CHECK_ID},
        )
    return report(module, outcome, read_known_differences(args.known_differences))


if __name__ == "__main__":
    sys.exit(main())
