"""Runs notebooks headless with nbclient; used by scripts/notebooks.sh.

Each notebook must be committed without outputs (so diffs show only what people wrote), and
must run top to bottom without an error. The executed copies go to target/notebooks/ for a
look after a failure.
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

failed = []
for path in map(Path, sys.argv[1:]):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    if dirty:
        failed.append(f"{path}: cells {dirty} hold outputs; clear them before committing "
                      f"(jupyter nbconvert --clear-output --inplace {path})")
        continue
    start = time.monotonic()
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
        print(f"notebooks: {path} ran in {time.monotonic() - start:.1f} s", file=sys.stderr)
    except CellExecutionError as e:
        failed.append(f"{path}: a cell failed:\n{e}")
    finally:
        out = Path("target/notebooks") / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)

for f in failed:
    print(f"notebooks: {f}", file=sys.stderr)
sys.exit(1 if failed else 0)
