"""Run Django's own SMTP backend tests against ``django_smtp_backend.EmailBackend``.

Django's test suite is not installed with Django: the sdist of the requested version
(``pip download --no-binary :all:``) is unpacked into a cache folder, outside the
repository. Before ``tests/mail/test_backends.py`` is imported, our backend is put in
place of ``django.core.mail.backends.smtp.EmailBackend``, so every ``smtp.EmailBackend``
in the suite (the test class's ``backend_class`` and the direct constructions) is ours.

Django's backend is built on ``smtplib``; ours on ``smtp_backend.client``, its drop-in.
So, as ``run_cpython_smtplib.py`` does for CPython's suite, that module is installed
as ``smtplib`` for the run (after Django and our backend are imported): a test that
patches ``smtplib.SMTP.login`` patches the client our backend logs in with.
``--stdlib-smtplib`` leaves the standard library's in place instead.

Failures listed in ``django_known_differences.txt`` are reported but do not fail the
run; a listed test that passes does (the list cannot go stale); so does passing
fewer than ``--min-passed`` tests.

    python tests/conformance/run_django_smtp_backend.py [--django "django>=6.1,<6.2"]
        [--cache DIR] [--min-passed 56] [--stdlib-smtplib] [-v] [-k PATTERN]

Exit status: 0 passed, 1 unexpected failures (or too few passed), 2 the suite could
not be fetched or imported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import unittest
from pathlib import Path

from run_cpython_smtplib import Outcome, add_suite_arguments, read_known_differences, verdict

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
KNOWN_DIFFERENCES_FILE = HERE / "django_known_differences.txt"
SUITE_MODULE = "mail.test_backends"
TEST_CLASSES = ("SMTPBackendTests", "SMTPBackendStoppedServerTests")
BACKEND = "django_smtp_backend.EmailBackend"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "smtp_backend"

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_SETUP_ERROR = 2


class SetupError(Exception):
    """The suite could not be fetched, unpacked or imported."""


def django_tests_folder(requirement: str, cache: Path) -> Path:
    """The ``tests/`` folder of the sdist matching ``requirement``, fetched once into ``cache``."""
    downloads = cache / "sdists"
    downloads.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"),
            *("--no-binary", ":all:", "--no-deps", requirement, "-d", str(downloads)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fetched.returncode != 0:
        raise SetupError(f"pip download {requirement!r} failed:\n{fetched.stderr}")
    import django

    # The sdist of the Django that runs the tests: its tests match its code.
    archive = downloads / f"django-{django.__version__}.tar.gz"
    if not archive.exists():
        raise SetupError(
            f"{archive.name} is not in {downloads}: the installed Django "
            f"({django.__version__}) does not match {requirement!r}"
        )
    unpacked = cache / archive.name.removesuffix(".tar.gz")
    if not (unpacked / "tests" / "mail" / "test_backends.py").exists():
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
    return unpacked / "tests"


def configure_django() -> None:
    """Settings as Django's test runner gives the mail tests (no database is used)."""
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={},
        INSTALLED_APPS=[],
        SECRET_KEY="django-smtp-backend-conformance",
        USE_TZ=True,
        EMAIL_BACKEND=BACKEND,
    )
    django.setup()


def substitute_backend(stdlib_smtplib: bool) -> None:
    """Make ``django.core.mail.backends.smtp.EmailBackend`` ours (and ``smtplib``, unless told)."""
    if str(REPO_ROOT / "integrations") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "integrations"))
        sys.path.insert(0, str(REPO_ROOT))
    from django.core.mail.backends import smtp

    import django_smtp_backend

    smtp.EmailBackend = django_smtp_backend.EmailBackend
    if not stdlib_smtplib:
        import smtp_backend.client

        sys.modules["smtplib"] = smtp_backend.client


def load_suite(tests_folder: Path, patterns: list[str]) -> unittest.TestSuite:
    sys.path.insert(0, str(tests_folder))
    try:
        module = __import__(SUITE_MODULE, fromlist=["*"])
    except Exception as error:
        raise SetupError(f"{SUITE_MODULE} cannot be imported: {error!r}") from error
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = [f"*{pattern}*" for pattern in patterns]
    return unittest.TestSuite(
        loader.loadTestsFromTestCase(getattr(module, name)) for name in TEST_CLASSES
    )


def short_id(test: unittest.TestCase) -> str:
    """``Class.method``; a subtest stands for the test that holds it."""
    test = getattr(test, "test_case", test)
    return ".".join(test.id().split(".")[-2:])


def collected(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    tests: list[unittest.TestCase] = []
    for test in suite:
        tests.extend(collected(test) if isinstance(test, unittest.TestSuite) else [test])
    return tests


def run(suite: unittest.TestSuite, verbosity: int) -> Outcome:
    # Read before running: a suite drops its tests as it runs them.
    ran = frozenset(short_id(test) for test in collected(suite))
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity).run(suite)
    failed = [test for test, _ in (*result.failures, *result.errors)]
    return Outcome(
        ran=ran,
        skipped=frozenset(short_id(test) for test, _ in result.skipped),
        failing=frozenset(short_id(test) for test in [*failed, *result.unexpectedSuccesses]),
    )


def report(outcome: Outcome, known: dict[str, str], min_passed: int, smtplib: str) -> int:
    """Print the summary and return the exit status it deserves."""
    import django

    print(
        f"Django {django.__version__}'s {SUITE_MODULE} ({', '.join(TEST_CLASSES)}) against "
        f"{BACKEND}, Python {sys.version.split()[0]}, smtplib: {smtplib}"
    )
    status = verdict(outcome, known, KNOWN_DIFFERENCES_FILE.name)
    if outcome.passed < min_passed:
        print(f"only {outcome.passed} passed: at least {min_passed} must")
        status = EXIT_FAILED
    return status


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--django", default="django>=6.1,<6.2", help="the sdist to test with")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR")
    parser.add_argument("--min-passed", type=int, default=56, metavar="N")
    parser.add_argument(
        "--stdlib-smtplib", action="store_true", help="leave the standard library's smtplib"
    )
    add_suite_arguments(parser, KNOWN_DIFFERENCES_FILE)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tests_folder = django_tests_folder(args.django, args.cache)
        configure_django()
        substitute_backend(args.stdlib_smtplib)
        suite = load_suite(tests_folder, args.patterns)
    except SetupError as error:
        print(error)
        return EXIT_SETUP_ERROR
    outcome = run(suite, 2 if args.verbose else 1)
    smtplib = "the standard library's" if args.stdlib_smtplib else "smtp_backend.client"
    return report(outcome, read_known_differences(args.known_differences), args.min_passed, smtplib)


if __name__ == "__main__":
    sys.exit(main())
