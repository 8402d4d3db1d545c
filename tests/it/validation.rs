//! The calibration statistics of `mqlcal::metrics::calibration` against independent
//! implementations (statsmodels, scipy and scikit-learn through the test engines): the same
//! numbers on simulated leads whose predictions are off in a known way.

use mqlcal::metrics::{BandTest, CalibrationStats};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// `n` leads over 25 score levels, each converting with a probability that is the level's
/// prediction made too extreme (true logit = 0.2 + 0.7·logit(p)): slope below 1, intercept
/// away from 0, as an over-fitted model gives.
fn simulated(n: usize, seed: u64) -> (Vec<f64>, Vec<bool>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let levels: Vec<f64> = (0..25).map(|k| 0.02 + 0.035 * k as f64).collect();
    let mut p = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let q = levels[rng.gen_range(0..levels.len())];
        let truth = 1.0 / (1.0 + (-(0.2 + 0.7 * (q / (1.0 - q)).ln())).exp());
        p.push(q);
        y.push(rng.gen::<f64>() < truth);
    }
    (p, y)
}

fn close(ours: f64, theirs: &Value, tol: f64, what: &str) {
    let theirs = theirs
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {theirs}"));
    assert!(
        (ours - theirs).abs() <= tol * theirs.abs().max(1.0),
        "{what}: mqlcal {ours}, reference {theirs}"
    );
}

#[test]
fn calibration_statistics_equal_statsmodels_and_scipy() {
    let (p, y) = simulated(6000, 11);
    let groups = mqlcal::metrics::pooled(&p, &y);
    let c = CalibrationStats::compute_counts(&groups).unwrap();
    // Three bands of levels, as the report's points bands group score levels.
    let bands: Vec<(u64, u64, f64)> = [(0.0, 0.3), (0.3, 0.6), (0.6, 1.0)]
        .iter()
        .map(|&(lo, hi)| {
            let members: Vec<usize> = (0..p.len()).filter(|&i| p[i] >= lo && p[i] < hi).collect();
            let conv = members.iter().filter(|&&i| y[i]).count() as u64;
            let mean = members.iter().map(|&i| p[i]).sum::<f64>() / members.len() as f64;
            (members.len() as u64, conv, mean)
        })
        .collect();
    let r = crate::engines::serve(
        "calibration",
        &json!({ "p": p, "y": y.iter().map(|&t| t as u8).collect::<Vec<_>>(), "bands": bands }),
    )
    .unwrap();
    // The simulation's known miscalibration shows.
    assert!(
        c.calibration_slope < 0.85 && c.calibration_intercept.abs() > 0.05,
        "{c:?}"
    );
    close(
        c.calibration_intercept,
        &r["calibration_intercept"],
        1e-8,
        "intercept",
    );
    close(c.calibration_slope, &r["calibration_slope"], 1e-8, "slope");
    for i in 0..2 {
        close(
            c.calibration_intercept_ci[i],
            &r["calibration_intercept_ci"][i],
            1e-7,
            "intercept CI",
        );
        close(
            c.calibration_slope_ci[i],
            &r["calibration_slope_ci"][i],
            1e-7,
            "slope CI",
        );
    }
    close(
        c.spiegelhalter_z,
        &r["spiegelhalter_z"],
        1e-10,
        "Spiegelhalter z",
    );
    close(
        c.spiegelhalter_p,
        &r["spiegelhalter_p"],
        1e-10,
        "Spiegelhalter p",
    );
    let d = &r["brier_decomposition"];
    close(
        c.brier_decomposition.reliability,
        &d["reliability"],
        1e-10,
        "reliability",
    );
    close(
        c.brier_decomposition.resolution,
        &d["resolution"],
        1e-10,
        "resolution",
    );
    close(
        c.brier_decomposition.uncertainty,
        &d["uncertainty"],
        1e-12,
        "uncertainty",
    );
    close(
        c.debiased_calibration_error,
        &r["debiased_calibration_error"],
        1e-10,
        "debiased CE",
    );
    close(c.ks, &r["ks"], 1e-12, "KS");
    close(c.gini, &r["gini"], 1e-12, "Gini");
    for (k, &(leads, conv, mean)) in bands.iter().enumerate() {
        let t = BandTest::new(leads, conv, mean);
        let b = &r["bands"][k];
        close(
            t.jeffreys_lower,
            &b["jeffreys_lower"],
            1e-9,
            "Jeffreys lower",
        );
        close(
            t.jeffreys_upper,
            &b["jeffreys_upper"],
            1e-9,
            "Jeffreys upper",
        );
        close(t.p_more, &b["p_more"], 1e-9, "P(X >= k)");
        close(t.p_fewer, &b["p_fewer"], 1e-9, "P(X <= k)");
    }
}

#[test]
fn calibrated_predictions_are_not_rejected_and_miscalibrated_ones_are() {
    // Predictions equal to the truth: the intervals cover intercept 0 and slope 1, and
    // Spiegelhalter's test does not reject; the simulated over-fitted ones are rejected.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let groups: Vec<(f64, u64, u64)> = (0..20_000)
        .map(|_| {
            let p = 0.02 + 0.035 * rng.gen_range(0..25) as f64;
            let t = rng.gen::<f64>() < p;
            (p, t as u64, !t as u64)
        })
        .collect();
    let c = CalibrationStats::compute_counts(&groups).unwrap();
    let [lo, hi] = c.calibration_intercept_ci;
    assert!(lo < 0.0 && 0.0 < hi, "{c:?}");
    let [lo, hi] = c.calibration_slope_ci;
    assert!(lo < 1.0 && 1.0 < hi, "{c:?}");
    assert!(c.spiegelhalter_p > 0.05, "{c:?}");

    let (p, y) = simulated(20_000, 3);
    let groups = mqlcal::metrics::pooled(&p, &y);
    let c = CalibrationStats::compute_counts(&groups).unwrap();
    assert!(c.calibration_slope_ci[1] < 1.0, "{c:?}");
}

/// Beta calibration equals `betacal`'s fit (Kull et al.'s package) on the same raw
/// probabilities: leads on 121 scores whose true map is skewed (a ≠ b).
#[test]
fn beta_calibration_equals_betacal() {
    use mqlcal::calibrate::beta::{fit, BetaParams, RawScale};
    let raw = RawScale {
        offset: -2.0,
        scale: std::f64::consts::LN_2 / 20.0,
    };
    let truth = BetaParams {
        a: 1.5,
        b: 0.5,
        c: 0.3,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let mut counts = vec![(0i64, 0u64, 0u64); 121];
    let (mut s, mut y) = (Vec::new(), Vec::new());
    for _ in 0..20_000 {
        let score = rng.gen_range(0..=120i64);
        let t = rng.gen::<f64>() < truth.probability(&raw, score as f64);
        let c = &mut counts[score as usize];
        *c = (score, c.1 + 1, c.2 + t as u64);
        s.push(1.0 / (1.0 + (-(raw.offset + raw.scale * score as f64)).exp()));
        y.push(t as u8);
    }
    counts.retain(|c| c.1 > 0);
    let ours = fit(&counts, &raw).unwrap();
    let theirs = crate::engines::serve("betacal", &json!({ "s": s, "y": y })).unwrap();
    eprintln!("mqlcal {ours:?}, betacal {theirs}");
    for (name, v) in [("a", ours.a), ("b", ours.b), ("c", ours.c)] {
        let t = theirs[name].as_f64().unwrap();
        assert!((v - t).abs() < 1e-4, "{name}: mqlcal {v}, betacal {t}");
    }
}
