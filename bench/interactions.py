"""Held-out quality on X Education with and without `--propose-interactions 3`: mqlcal's proposed
rules on the three stratified 70/30 splits of bench/binning.py (same exclusions, same scoring),
once as they are and once with the AND rules the search keeps. Prints one JSON line per seed and
variant (ROC AUC by scikit-learn, ECE as mqlcal computes it, the pairs kept), then the means.

    python bench/interactions.py BINARY Leads.csv [SEED ...]

Needs numpy, pandas and scikit-learn (not optbinning).
"""

import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from binning import ece, held_out, mqlcal  # noqa: E402


def main():
    binary, csv = sys.argv[1], sys.argv[2]
    seeds = [int(s) for s in sys.argv[3:]] or [0, 1, 2]
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    y = raw["Converted"].astype(int).to_numpy()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in seeds:
            test = held_out(y, seed)
            for name, extra in (("plain", ()), ("interactions", ("--propose-interactions", "3"))):
                p = mqlcal(binary, raw, ~test, test, work, extra)
                model = json.loads((work / "model.json").read_text())
                search = model["training"].get("interactions", {})
                row = {"seed": seed, "variant": name,
                       "roc_auc": round(roc_auc_score(y[test], p), 4),
                       "ece": round(ece(p, y[test]), 4),
                       "pairs": search.get("pairs"),
                       "kept": [s["rule"] for s in search.get("steps", []) if s["kept"]]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    for name in ("plain", "interactions"):
        rs = [r for r in rows if r["variant"] == name]
        print(f"mean  {name:<13} ROC AUC {sum(r['roc_auc'] for r in rs) / len(rs):.4f}  "
              f"ECE {sum(r['ece'] for r in rs) / len(rs):.4f}")


if __name__ == "__main__":
    main()
