"""Copy the notebooks shipped inside custops into a folder of your own, with the sample data.

``custops notebooks DIR`` writes ``DIR/notebooks/`` (01–04 and the dashboards' index) and
``DIR/data/sample/``, where the notebooks' default ``data_dir = "../data/sample"`` points. The
installed package carries the notebooks but not the 7 MB sample: it is generated again with
:func:`custops.tools.sample.generate_sample` (5,000 customers, seed 42, as_of 2026-09-30), which
gives the repository's ``data/sample`` CSV files byte for byte (``tests/test_sample.py`` checks
it). Existing files are never replaced unless ``force`` is set.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from custops.errors import ParameterError, RunError
from custops.tools.sample import generate_sample, write_sample

__all__ = ["NOTEBOOK_FILES", "SAMPLE_SETTINGS", "cli_notebooks", "copy_notebooks",
           "shipped_notebooks"]

NOTEBOOK_FILES = ("01_profile.ipynb", "02_segment.ipynb", "03_churn.ipynb", "04_reach.ipynb",
                  "index.ipynb")
# The settings of the repository's data/sample (its README names the same command).
SAMPLE_SETTINGS: dict[str, Any] = {"n_customers": 5000, "seed": 42, "as_of": "2026-09-30"}
NOTEBOOKS_SUBDIR = "notebooks"
SAMPLE_SUBDIR = Path("data") / "sample"


def shipped_notebooks() -> Path:
    """The folder of notebooks inside the installed package (``custops/notebooks``; in a
    checkout a symlink to the repository's ``notebooks/``)."""
    return (Path(__file__).resolve().parents[1] / NOTEBOOKS_SUBDIR).resolve()


def copy_notebooks(dest: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Copy the notebooks to ``dest/notebooks/`` and write the sample to ``dest/data/sample/``.

    Parameters
    ----------
    dest : str or PathLike
        Folder to fill (created if needed).
    force : bool, default False
        Replace files that already exist. Without it nothing is written when any of the
        files would be replaced.

    Returns
    -------
    list of Path
        The files written: the five notebooks, then the sample's data, truth and READMEs.

    Raises
    ------
    ParameterError
        ``dest`` is a file, or files exist and ``force`` is not set.
    RunError
        The installed package lacks its notebooks (a broken install).
    """
    source = shipped_notebooks()
    missing = [name for name in NOTEBOOK_FILES if not (source / name).is_file()]
    if missing:
        raise RunError(f"custops is installed without its notebooks ({', '.join(missing)} not in "
                       f"{source}); reinstall the package")
    root = Path(dest).expanduser()
    if root.exists() and not root.is_dir():
        raise ParameterError(f"{root} is a file, not a folder")
    notebooks_dir, sample_dir = root / NOTEBOOKS_SUBDIR, root / SAMPLE_SUBDIR
    root.mkdir(parents=True, exist_ok=True)
    # The sample is written to a scratch folder first: its file names are the generator's
    # own, and nothing in dest is touched when we refuse.
    with tempfile.TemporaryDirectory(prefix=".custops-sample-", dir=root) as scratch:
        sample = generate_sample(SAMPLE_SETTINGS["n_customers"], seed=SAMPLE_SETTINGS["seed"],
                                 as_of=SAMPLE_SETTINGS["as_of"])
        staged = write_sample(sample, Path(scratch))
        sample_files = [(path, sample_dir / path.relative_to(scratch)) for path in staged]
        notebook_files = [(source / name, notebooks_dir / name) for name in NOTEBOOK_FILES]
        targets = [target for _, target in notebook_files + sample_files]
        existing = [target for target in targets if target.exists()]
        if existing and not force:
            shown = ", ".join(str(path) for path in existing[:4])
            more = f" and {len(existing) - 4} more" if len(existing) > 4 else ""
            raise ParameterError(f"{len(existing)} file(s) already exist ({shown}{more}): pass "
                                 "--force to overwrite them, or choose another folder")
        written = []
        for src, target in notebook_files:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not (target.exists() and os.path.samefile(src, target)):  # DIR = the checkout
                shutil.copyfile(src, target)  # content only: the copy is the user's, writable
            written.append(target)
        for src, target in sample_files:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, target)
            written.append(target)
    return written


def cli_notebooks(args) -> int:
    """``custops notebooks DIR``: copy, say what was written and what to run next."""
    dest = Path(args.dir).expanduser()
    written = copy_notebooks(dest, force=bool(getattr(args, "force", False)))
    notebooks_dir, sample_dir = dest / NOTEBOOKS_SUBDIR, dest / SAMPLE_SUBDIR
    n_notebooks = sum(1 for path in written if path.parent == notebooks_dir)
    print(f"{n_notebooks} notebooks → {notebooks_dir}", flush=True)
    print(f"sample data ({SAMPLE_SETTINGS['n_customers']:,} customers, seed "
          f"{SAMPLE_SETTINGS['seed']}, as_of {SAMPLE_SETTINGS['as_of']}; the repository's "
          f"data/sample) → {sample_dir}", flush=True)
    print("next:", flush=True)
    print(f"  jupyter lab {shlex.quote(str(notebooks_dir))}", flush=True)
    print(f"  custops report --data {shlex.quote(str(sample_dir))} --out "
          f"{shlex.quote(str(dest / 'reports'))}", flush=True)
    return 0
