"""CPython's own test_smtplib passes against smtp_backend, bar known_differences.txt."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUNNER_PATH = Path(__file__).with_name("run_cpython_smtplib.py")


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_cpython_smtplib", RUNNER_PATH)
    assert spec is not None and spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    # Registered first, as dataclasses look their module up while it executes.
    sys.modules[spec.name] = runner
    spec.loader.exec_module(runner)
    return runner


runner = load_runner()


@pytest.mark.timeout(300)
def test_cpython_test_smtplib_passes_against_smtp_backend() -> None:
    if importlib.util.find_spec(runner.SUITE_NAME) is None:
        pytest.skip(f"{runner.SUITE_NAME} is not installed for {sys.executable}")
    # A subprocess: the suite patches socket, sys.stdout and sys.modules["smtplib"].
    completed = subprocess.run(
        [sys.executable, str(RUNNER_PATH), "--module", "smtp_backend.client"],
        cwd=runner.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if completed.returncode == runner.EXIT_SUITE_UNAVAILABLE:
        pytest.skip(completed.stdout.strip())
    assert completed.returncode == runner.EXIT_PASSED, (
        f"{completed.stdout}\n--- unittest output ---\n{completed.stderr}"
    )
