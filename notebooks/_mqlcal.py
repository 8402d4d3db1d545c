"""What the notebooks share: where the repository and the mqlcal binary are, a scratch folder,
and a way to run mqlcal that returns its --json summary."""
import json
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MQLCAL = Path(os.environ.get("MQLCAL_BIN", REPO / "target" / "debug" / "mqlcal"))
if not MQLCAL.exists():
    raise FileNotFoundError(f"{MQLCAL} not found: run `cargo build` in {REPO} first, or set MQLCAL_BIN")


def workdir(name):
    """An empty folder under target/notebooks/ for one notebook's files."""
    path = REPO / "target" / "notebooks" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def mqlcal(*args):
    """Runs mqlcal with --json and returns its summary; warnings (stderr) are shown."""
    run = subprocess.run([MQLCAL, *map(str, args), "--json", "--quiet"], capture_output=True, text=True)
    if run.stderr:
        print(run.stderr)
    run.check_returncode()
    return json.loads(run.stdout)


def version():
    return subprocess.run([MQLCAL, "--version"], capture_output=True, text=True, check=True).stdout.strip()
