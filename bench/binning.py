"""Held-out quality on X Education: mqlcal's proposed rules against optbinning's Scorecard and
scikit-learn's one-hot logistic regression, on the same stratified 70/30 splits.

    python bench/binning.py MQLCAL_BINARY LEADS_CSV SEED [SEED ...]

The split of seed s (shared with tests/it/xeducation.rs): within each class, rows ordered by
splitmix64(s * 1_000_003 + row) (row counted from 0, wrapping at 2^64), the first
round(0.3 * class size) held out. Every method trains on the same 70% and is scored on the same
30%; ROC AUC by scikit-learn, ECE as mqlcal computes it (10 equal-width bins of the predicted
probability, sum of |predicted - converted| per bin over all leads). Prints one JSON line per
seed and method.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

AFTER_CONTACT = [
    "Tags",
    "Lead Quality",
    "Last Notable Activity",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
]
EXCLUDE = ["Lead Number"] + AFTER_CONTACT
MASK = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def held_out(y, seed):
    test = np.zeros(len(y), dtype=bool)
    for cls in (0, 1):
        rows = [i for i in range(len(y)) if y[i] == cls]
        rows.sort(key=lambda i: splitmix64((seed * 1_000_003 + i) & MASK))
        test[rows[: round(0.3 * len(rows))]] = True
    return test


def ece(p, y, bins=10):
    b = np.minimum((p * bins).astype(int), bins - 1)
    return sum(abs(p[b == k].sum() - y[b == k].sum()) for k in range(bins)) / len(y)


def mqlcal(binary, raw, train, test, work, extra=()):
    tr, te = work / "train.csv", work / "test.csv"
    raw[train].to_csv(tr, index=False)
    raw[test].to_csv(te, index=False)
    model, scored = work / "model.json", work / "scored.csv"
    subprocess.run(
        [binary, "train", "--data", tr, "--target", "Converted", "--id", "Prospect ID",
         "--na", "Select", "--exclude", ",".join(EXCLUDE), "--out", model, "--force", *extra],
        check=True, capture_output=True)
    subprocess.run(
        [binary, "score", "--model", model, "--data", te, "--out", scored, "--force"],
        check=True, capture_output=True)
    out = pd.read_csv(scored, dtype={"Prospect ID": str})
    p = out.set_index("Prospect ID").loc[raw[test]["Prospect ID"], "probability"]
    return p.to_numpy(dtype=float)


def frame(raw):
    X = raw.drop(columns=EXCLUDE + ["Prospect ID", "Converted"])
    X = X.replace({"Select": np.nan, "": np.nan})
    numeric = [c for c in X.columns if X[c].dropna().map(_is_number).all()]
    for c in numeric:
        X[c] = pd.to_numeric(X[c])
    categorical = [c for c in X.columns if c not in numeric]
    for c in categorical:
        X[c] = X[c].astype(object)
    return X, numeric, categorical


def _is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def main():
    # Here, so that bench/interactions.py can use the split without optbinning installed.
    from optbinning import BinningProcess, Scorecard

    binary, csv, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    y = raw["Converted"].astype(int).to_numpy()
    X, numeric, categorical = frame(raw)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in seeds:
            test = held_out(y, seed)
            train = ~test
            results = {}
            results["mqlcal"] = mqlcal(binary, raw, train, test, work)
            sc = Scorecard(
                binning_process=BinningProcess(list(X.columns), categorical_variables=categorical),
                estimator=LogisticRegression(max_iter=5000),
                scaling_method="min_max", scaling_method_params={"min": 0, "max": 100})
            sc.fit(X[train], y[train])
            results["optbinning"] = sc.predict_proba(X[test])[:, 1]
            Xo = X.copy()
            Xo[categorical] = Xo[categorical].fillna("(missing)")
            pre = ColumnTransformer([
                ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                      StandardScaler()), numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical)])
            lr = make_pipeline(pre, LogisticRegression(max_iter=5000)).fit(Xo[train], y[train])
            results["sklearn"] = lr.predict_proba(Xo[test])[:, 1]
            for name, p in results.items():
                row = {"seed": seed, "method": name, "held_out": int(test.sum()),
                       "roc_auc": round(roc_auc_score(y[test], p), 4),
                       "ece": round(ece(p, y[test]), 4)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"{'':>4}  {'method':<11} {'ROC AUC':>8} {'ECE':>7}")
    for method in ("mqlcal", "optbinning", "sklearn"):
        rs = [r for r in rows if r["method"] == method]
        auc = sum(r["roc_auc"] for r in rs) / len(rs)
        err = sum(r["ece"] for r in rs) / len(rs)
        print(f"mean  {method:<11} {auc:>8.4f} {err:>7.4f}")


if __name__ == "__main__":
    main()
