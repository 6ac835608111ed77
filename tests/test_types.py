"""The package type-checks: mypy, as configured in pyproject.toml (``[tool.mypy]``), reports no error.

trialsim ships ``py.typed``, so its annotations are a promise to every user who runs a type checker. mypy is
in the ``test`` extra; this test runs it as CI does (``python -m mypy`` from the repository root, which reads
the configuration and the files to check from pyproject.toml).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_reports_no_error():
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"mypy exited with status {done.returncode}:\n{(done.stdout + done.stderr).strip()}",
                    pytrace=False)
