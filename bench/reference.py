"""The Python reference for bench/compare.sh: the same work as `mqlcal train`, done the usual way.

Usage: python reference.py LEADS.csv RULES.toml [--check MODEL.json]

Reads the leads with polars, computes the rule features of RULES.toml with polars expressions
(the same semantics as mqlcal: empty cells are missing; per-unit rules count whole units up to
the cap; ranges are at_least <= x < below), chooses the L2 strength over mqlcal's grid
(alpha = 1/C, half-decades from 0.01 to 1000) by 5-fold cross-validated log loss with
scikit-learn's LogisticRegressionCV(lbfgs), and calibrates with CalibratedClassifierCV (Platt,
5 folds). Prints the chosen alpha and the time of each step.

With --check MODEL.json (not timed by compare.sh): fits scikit-learn's LogisticRegression at the
model's alpha, strictly converged, and prints the largest difference from the model's weights.
"""
import json
import sys
import time
import tomllib

import numpy as np
import polars as pl
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV


def feature(rule):
    col = pl.col(rule["column"])
    if rule.get("is_missing"):
        return col.is_null().cast(pl.Float64)
    if rule.get("per_unit"):
        x = col.cast(pl.Float64).floor().clip(lower_bound=0)
        if "cap" in rule:
            x = x.clip(upper_bound=float(int(rule["cap"])))
        return x.fill_null(0.0)
    if "one_of" in rule:
        return col.cast(pl.Utf8).str.strip_chars().is_in(rule["one_of"]).fill_null(False).cast(pl.Float64)
    x = col.cast(pl.Float64)
    test = pl.lit(True)
    if "at_least" in rule:
        test = test & (x >= rule["at_least"])
    if "below" in rule:
        test = test & (x < rule["below"])
    return test.fill_null(False).cast(pl.Float64)


def main():
    leads, rules_path = sys.argv[1], sys.argv[2]
    check = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--check" else None
    t0 = time.perf_counter()
    with open(rules_path, "rb") as f:
        rules_file = tomllib.load(f)
    rules = rules_file["rule"]
    df = pl.read_csv(leads, infer_schema_length=10000)
    t_read = time.perf_counter()
    feats = df.select([feature(r).alias(f"r{j}") for j, r in enumerate(rules)])
    X = feats.to_numpy(order="fortran")
    y = df[rules_file["target"]].cast(pl.Int8).to_numpy()
    t_feat = time.perf_counter()
    alphas = [10 ** (-2 + 0.5 * i) for i in range(11)]
    if check:
        model = json.load(open(check))
        alpha = model["training"]["alpha"]
        lr = LogisticRegression(C=1 / alpha, solver="lbfgs", tol=1e-12, max_iter=100000)
        lr.fit(X, y)
        ours = np.array([r["weight"] for r in model["rules"]] + [model["training"]["intercept"]])
        theirs = np.concatenate([lr.coef_[0], lr.intercept_])
        print(json.dumps({"alpha": alpha, "max_abs_weight_difference": float(np.max(np.abs(ours - theirs)))}))
        return
    cv = LogisticRegressionCV(
        Cs=[1 / a for a in alphas], cv=5, scoring="neg_log_loss", solver="lbfgs", max_iter=1000
    )
    cv.fit(X, y)
    t_cv = time.perf_counter()
    alpha = 1 / cv.C_[0]
    calibrated = CalibratedClassifierCV(
        LogisticRegression(C=cv.C_[0], solver="lbfgs", max_iter=1000), method="sigmoid", cv=5
    )
    calibrated.fit(X, y)
    t_cal = time.perf_counter()
    print(json.dumps({
        "alpha": alpha,
        "read_s": t_read - t0, "features_s": t_feat - t_read,
        "cv_s": t_cv - t_feat, "calibration_s": t_cal - t_cv,
    }))


if __name__ == "__main__":
    main()
