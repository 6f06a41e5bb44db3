"""Repository-level checks: packaging, environment files in step, notebooks stripped, ignores."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from PyPI names.
CONDA_NAMES = {"duckdb": "python-duckdb"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement.strip())
    assert match, requirement
    return match.group(1).lower(), match.group(3).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted: dict[str, str] = {}
    requirements = list(project["dependencies"])
    for extra in ("dev", "spark"):
        requirements += project["optional-dependencies"][extra]
    for req in requirements:
        name, pin = _split(req)
        wanted[CONDA_NAMES.get(name, name)] = pin
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python>=", "pip")):
            name, pin = _split(dep)
            found[name] = pin
    assert found == wanted


def test_gitignore_keeps_lib_and_ignores_reports():
    def ignored(path: str) -> bool:
        result = subprocess.run(
            ["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT, check=False
        )
        return result.returncode == 0

    assert not ignored("lib/custops/__init__.py")
    assert ignored("reports/01_profile.html")


def test_committed_notebooks_have_no_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them before committing"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:15])
    assert "make report" in head and "make test" in head


def test_parameters_cells_are_literals_papermill_can_read():
    """papermill silently ignores a parameter line it cannot parse (e.g. '=' or ';' in its
    comment); every notebook's parameters must be readable and shared ones identical."""
    from papermill.inspection import inspect_notebook

    common = None
    for path in sorted((ROOT / "notebooks").glob("0*_*.ipynb")):  # the report notebooks
        params = inspect_notebook(str(path))
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        lines = [ln for ln in "".join(cell["source"]).splitlines() if ln.strip()]
        assert len(params) == len(lines), f"{path.name}: a parameter line papermill cannot read"
        names = {"data_dir", "as_of", "lang", "run_dir", "seed", "mapping", "tz"}
        assert names <= set(params), path.name
        shared = {k: params[k]["default"] for k in names}
        common = common or shared
        assert shared == common, path.name


def test_importing_custops_spares_jsonschema_its_iri_parsers():
    """rfc3987_syntax builds ~35 Earley parsers as it loads (~2 s of CPU in every kernel and
    server): after ``import custops`` jsonschema loads without it, and nbformat still
    validates notebooks."""
    code = ("import sys, custops, nbformat, jsonschema._format\n"
            "assert sys.modules.get('rfc3987_syntax') is None, sys.modules['rfc3987_syntax']\n"
            "nbformat.validate(nbformat.v4.new_notebook())\n"
            "bad = nbformat.v4.new_notebook(); bad['cells'] = [{'cell_type': 'nope'}]\n"
            "try:\n    nbformat.validate(bad)\nexcept nbformat.ValidationError:\n"
            "    print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "ok"
