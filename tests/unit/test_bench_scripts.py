"""Benchmarks run as `bench/README.md` says: `.venv/bin/python bench/<name>.py`."""

import subprocess
import sys

import pytest

from tests.support.db import ROOT

SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


def test_no_script_shadows_a_standard_module() -> None:
    """Running a script puts `bench/` first on the path, so `bench/calendar.py` would replace `calendar`."""
    shadowing = [path.name for path in SCRIPTS if path.stem in sys.stdlib_module_names]
    assert shadowing == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_script_imports_with_bench_first_on_the_path(script) -> None:
    """Import each script as `python bench/x.py` would see it, without running its main."""
    code = f"import runpy, sys; sys.path.insert(0, {str(script.parent)!r}); runpy.run_path({str(script)!r}, run_name='bench_import_check')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
