"""custops as users install it: the wheel, in a fresh venv, run from a folder outside the checkout.

The wheel is built from a copy of the checkout (``pip wheel --no-build-isolation``: no network,
and the build leaves nothing in the checkout) and installed into a new venv. Its dependencies
come from the project's venv through a ``.pth`` path entry (installing them from PyPI would take
minutes); a path in a ``.pth`` file is not itself scanned for ``.pth`` files, so the project's
editable install (a ``.pth`` naming ``lib/``) is not picked up — the tests check that the custops
running, in the CLI and in the Jupyter kernel papermill and Voila start, is the wheel's.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_profile", "02_segment", "03_churn", "04_reach", "index")
# What the build reads (besides lib/ and notebooks/), where present.
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE", "setup.py", "setup.cfg", "MANIFEST.in")
SAMPLE_FILES = ("orders.csv", "customers.csv", "events.csv", "touches.csv")
# The project's venv: the fresh venv borrows its packages (never its custops).
PROJECT_PREFIX = Path(sys.prefix)
PROJECT_SITE = Path(sysconfig.get_paths()["purelib"])


def _run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, text=True,
                            capture_output=True, timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
    return result


def _inside(path: str | os.PathLike, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of what the build reads (pip builds in the tree: build/ and the egg-info stay out
    of the checkout); symlinks are kept as they are (lib/custops/notebooks)."""
    version = importlib.metadata.version("setuptools")
    if int(version.split(".")[0]) < 77:
        pytest.fail(f"setuptools {version} in {sys.prefix} cannot build custops (the SPDX "
                    "license string needs >= 77): run `make setup`")
    src = tmp_path_factory.mktemp("source")
    for name in BUILD_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    shutil.copytree(ROOT / "lib", src / "lib", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "notebooks", src / "notebooks", ignore=ignore)
    return src


def _build_wheel(what: str | Path, cwd: Path, out: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", what, "--no-deps", "--no-build-isolation",
          "--no-index", "--quiet", "-w", out], cwd=cwd)
    (wheel,) = out.glob("custops-*.whl")
    return wheel


def _check_wheel(wheel: Path, source: Path) -> None:
    """The notebooks are in the wheel as files, equal to the repository's; no data or tests."""
    with zipfile.ZipFile(wheel) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        for name in NOTEBOOKS:
            info = infos.get(f"custops/notebooks/{name}.ipynb")
            assert info is not None, f"{name}.ipynb missing from {wheel.name}"
            assert not stat.S_ISLNK(info.external_attr >> 16), f"{name}.ipynb is a symlink"
            assert archive.read(info) == (source / "notebooks" / f"{name}.ipynb").read_bytes()
        assert not [n for n in infos if n.startswith(("data/", "tests/", "custops/data/"))]
        (entry_points,) = [n for n in infos if n.endswith(".dist-info/entry_points.txt")]
        assert re.search(r"^custops = custops\.run\.cli:main$",
                         archive.read(entry_points).decode(), re.M)


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    return _build_wheel(".", source, tmp_path_factory.mktemp("dist"))


def test_the_wheel_ships_the_notebooks_as_files(wheel, source):
    _check_wheel(wheel, source)


def test_the_sdist_carries_the_notebooks_and_builds_the_same_wheel(source, tmp_path):
    _run([sys.executable, "-c", "import sys; from setuptools import build_meta; "
          "build_meta.build_sdist(sys.argv[1])", tmp_path], cwd=source)
    (sdist,) = tmp_path.glob("custops-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {re.sub(r"^[^/]+/", "", m.name): m for m in archive.getmembers()}
    for name in NOTEBOOKS:
        member = members.get(f"lib/custops/notebooks/{name}.ipynb")
        assert member is not None and member.isfile(), f"{name}.ipynb not a file in the sdist"
    _check_wheel(_build_wheel(sdist, tmp_path, tmp_path / "from-sdist"), source)


# -- installed ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh venv (no system site-packages) holding the wheel, its Jupyter kernel, an empty
    working folder outside the checkout and the environment a user's shell would give."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root).stdout.strip())
    (site / "project_dependencies.pth").write_text(f"{PROJECT_SITE}\n", encoding="utf-8")
    # The dependencies' data files (nbconvert and Voila templates, widget extensions, server
    # config) as pip would have put them into this venv; not the project's kernels, whose
    # "python3" runs the project's python (and so the editable custops).
    share = venv / "share" / "jupyter"
    share.mkdir(parents=True)
    for item in (PROJECT_PREFIX / "share" / "jupyter").iterdir():
        if item.name != "kernels":
            (share / item.name).symlink_to(item, target_is_directory=item.is_dir())
    if (PROJECT_PREFIX / "etc" / "jupyter").is_dir():
        (venv / "etc").mkdir()
        (venv / "etc" / "jupyter").symlink_to(PROJECT_PREFIX / "etc" / "jupyter")
    work = root / "work"
    work.mkdir()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("CUSTOPS_", "JUPYTER", "PYTHON", "PIP_", "VIRTUAL_ENV",
                                   "COVERAGE_", "IPYTHONDIR"))}
    # Nothing of the checkout on PATH (the project's venv/bin): like a user calling the
    # venv's custops by its path, or through pipx.
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", os.defpath).split(os.pathsep)
                                  if part and not _inside(part, ROOT))
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        env[name] = str(root / "home" / sub)
    # --ignore-installed: the project's editable custops is visible through the .pth; pip
    # must neither uninstall it nor count it as installed.
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
          "--quiet", wheel], cwd=root, env=env)
    # What `pip install` of ipykernel puts in a venv's share/jupyter: the "python3" kernel.
    _run([python, "-m", "ipykernel", "install", "--prefix", venv, "--name", "python3"],
         cwd=root, env=env)
    return {"root": root, "venv": venv, "python": python, "custops": venv / "bin" / "custops",
            "work": work, "env": env}


def test_the_cli_and_the_kernel_run_the_wheels_custops(installed):
    venv, work, env = installed["venv"], installed["work"], installed["env"]
    probe = """
import importlib.metadata, json, sys
import custops
from custops.tools.notebooks import shipped_notebooks
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

spec = KernelSpecManager().get_kernel_spec("python3")
km, kc = start_new_kernel(kernel_name="python3")
outputs = []
try:
    kc.execute_interactive("import custops, sys; print(custops.__file__); print(sys.executable)",
                           output_hook=outputs.append, timeout=120)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
kernel = "".join(m["content"].get("text", "") for m in outputs
                 if m["msg_type"] == "stream").split()
print(json.dumps({"file": custops.__file__, "path": sys.path,
                  "dist": str(importlib.metadata.distribution("custops").locate_file("custops")),
                  "notebooks": str(shipped_notebooks()), "spec_dir": spec.resource_dir,
                  "spec_argv": spec.argv, "kernel_file": kernel[0], "kernel_python": kernel[1]}))
"""
    found = json.loads(_run([installed["python"], "-c", probe], cwd=work, env=env,
                            timeout=180).stdout.splitlines()[-1])
    for key in ("file", "dist", "notebooks", "spec_dir", "kernel_file"):
        assert _inside(found[key], venv), (key, found[key])
    assert found["spec_argv"][0] == str(venv / "bin" / "python")
    assert Path(found["kernel_python"]) == venv / "bin" / "python"
    # The editable install's lib/ (or any other folder holding a custops) is not on sys.path.
    assert str(ROOT / "lib") not in found["path"]
    others = [p for p in found["path"] if p and (Path(p) / "custops").exists()
              and not _inside(p, venv)]
    assert others == []
    shebang = installed["custops"].read_text(encoding="utf-8").splitlines()[0]
    assert shebang == f"#!{venv / 'bin' / 'python'}"


@pytest.fixture(scope="module")
def report(installed) -> Path:
    work, env, custops = installed["work"], installed["env"], installed["custops"]
    _run([custops, "sample", "--customers", "300", "--out", "data"], cwd=work, env=env)
    assert all((work / "data" / name).is_file() for name in SAMPLE_FILES)
    started = time.perf_counter()
    _run([custops, "report", "--data", "data", "--out", "rep", "--notebooks", "01_profile"],
         cwd=work, env=env, timeout=600)
    print(f"custops report (01_profile, 300 customers): {time.perf_counter() - started:.1f} s")
    return work / "rep"


def test_report_from_the_wheel(report):
    assert (report / "index.html").is_file() and (report / "01_profile.html").is_file()
    manifest = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok"
    assert [item["name"] for item in manifest["notebooks"]] == ["01_profile"]
    assert manifest["packages"]["custops"] == importlib.metadata.version("custops")


def test_notebooks_command_copies_the_notebooks_and_makes_the_sample(installed, wheel):
    work, env, custops = installed["work"], installed["env"], installed["custops"]
    out = _run([custops, "notebooks", "nbdir"], cwd=work, env=env).stdout
    assert "jupyter lab" in out
    with zipfile.ZipFile(wheel) as archive:
        for name in NOTEBOOKS:
            copied = work / "nbdir" / "notebooks" / f"{name}.ipynb"
            assert copied.read_bytes() == archive.read(f"custops/notebooks/{name}.ipynb")
    sample = work / "nbdir" / "data" / "sample"
    for name in SAMPLE_FILES:  # the repository's data/sample, byte for byte
        assert (sample / name).read_bytes() == (ROOT / "data" / "sample" / name).read_bytes()
    refused = subprocess.run([custops, "notebooks", "nbdir"], cwd=work, env=env, text=True,
                             capture_output=True, check=False)
    assert refused.returncode == 2 and "--force" in refused.stderr
    _run([custops, "notebooks", "nbdir", "--force"], cwd=work, env=env)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kernels(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _page(url: str, server: dict) -> str:
    """The page at ``url`` once Voila has run its notebook (the response ends then)."""
    with urllib.request.urlopen(url, timeout=300) as response:
        assert response.status == 200
        body = response.read().decode("utf-8", "replace")
    server["children"].update(_kernels(server["process"].pid))  # Voila's kernels
    assert "There was an error when executing cell" not in body, (
        f"{url} failed; Voila's log:\n{server['log'].read_text()[-6000:]}")
    return body


@pytest.fixture(scope="module")
def dashboard(installed, report):
    """``custops dashboard --run rep`` on a free port, until the module's tests are done."""
    log_path = installed["root"] / "dashboard.log"
    port = _free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(installed["custops"]), "dashboard", "--run", report.name, "--port", str(port),
             "--no-preheat"], cwd=installed["work"], env=installed["env"], stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = {"process": process, "log": log_path, "children": set()}
    try:
        deadline, url = time.monotonic() + 180, None
        while url is None:  # the landing page's address, as custops prints it
            assert process.poll() is None, f"custops dashboard exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"no address printed:\n{log_path.read_text()}"
            found = re.search(r"^open (http://\S+)$", log_path.read_text(), re.M)
            url = found.group(1) if found else None
            time.sleep(0.5)
        assert url.startswith(f"http://127.0.0.1:{port}/")
        server["url"] = url
        yield server
    finally:
        server["children"].update(_kernels(process.pid))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # custops stops Voila and its kernels
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        for child in server["children"]:  # kernels run in sessions of their own
            with contextlib.suppress(psutil.Error):
                child.kill()


def test_dashboard_landing_page(dashboard):
    body = _page(dashboard["url"], dashboard)
    assert "custops-landing" in body, body[-3000:]
    assert "01_profile.ipynb" in body  # it found the installed notebooks it links to


def test_dashboard_shows_the_report(dashboard):
    """A dashboard reads the report's stored tables: the notebooks' default data_dir,
    ../data/sample, is not next to the installed notebooks."""
    started = time.perf_counter()
    body = _page(re.sub(r"[^/]+\.ipynb$", "01_profile.ipynb", dashboard["url"]), dashboard)
    print(f"01_profile dashboard: {time.perf_counter() - started:.1f} s")
    assert "plotly" in body
