"""Process settings of the runs: transparent huge pages off (custops.run.process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="prctl(PR_SET_THP_DISABLE) is Linux only")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


# The test process itself may run without huge pages (a test before opened a run in it, and
# the setting is inherited): each child starts by allowing them again.
RESET = """
from custops.run import process
process._prctl(process.PR_SET_THP_DISABLE, 0)
"""


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", RESET + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_huge_pages_are_turned_off_for_the_process_and_the_processes_it_starts():
    out = _run("""
        import subprocess
        from custops.run.process import huge_pages_enabled, no_huge_pages
        print(huge_pages_enabled())
        print(no_huge_pages())
        print(huge_pages_enabled())
        status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True)
        print([line.split()[-1] for line in status.stdout.splitlines()
               if line.startswith("THP_enabled")])
    """).split("\n")
    assert out[:3] == ["True", "True", "False"]
    # A kernel the runner starts is such a child: it inherits the setting across exec.
    assert out[3] in ("['0']", "[]")  # [] on a kernel too old to report it in /proc


def test_a_notebook_opening_its_run_turns_huge_pages_off():
    # A kernel JupyterLab started (not the runner): open_run does it.
    out = _run(f"""
        from custops.run.process import huge_pages_enabled
        before = huge_pages_enabled()
        from custops.run import open_run
        open_run(data_dir={str(SAMPLE)!r})
        print(before, huge_pages_enabled())
    """)
    assert out.split() == ["True", "False"]


def test_the_command_line_turns_huge_pages_off_before_it_starts_anything(monkeypatch):
    from custops.run import cli

    seen = []
    monkeypatch.setattr(cli, "no_huge_pages", lambda: seen.append("off") or True)
    monkeypatch.setattr(cli.importlib, "import_module",
                        lambda name: type("M", (), {"cli_validate": staticmethod(
                            lambda args: seen.append("ran") or 0)}))
    assert cli.main(["validate", "--data", str(SAMPLE)]) == 0
    assert seen == ["off", "ran"]
