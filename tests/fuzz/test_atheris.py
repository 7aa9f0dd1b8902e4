"""Coverage-guided fuzzing (atheris) of the reply parser and the data encoder, time-boxed.

hypothesis covers the same properties on every run (tests/security, tests/unit); this
adds libFuzzer's coverage-guided search for a few seconds each.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

TARGETS = Path(__file__).with_name("fuzz_targets.py")
ROOT = Path(__file__).resolve().parents[2]
SECONDS = int(os.environ.get("SMTP_BACKEND_FUZZ_SECONDS", "5"))


@pytest.mark.timeout(SECONDS * 4 + 30)
@pytest.mark.parametrize("target", ["replies", "data"])
def test_fuzz_target_finds_no_crash(target: str, tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed (pip install 'smtp-backend[fuzz]')")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    completed = subprocess.run(
        [
            sys.executable,
            str(TARGETS),
            target,
            f"-max_total_time={SECONDS}",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=SECONDS * 4 + 20,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "Done" in completed.stderr
