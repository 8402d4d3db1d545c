//! Weights → integer points. A marketer's points system adds points per rule; here
//! `points_to_double_odds` points (20 by default) double a lead's odds of converting, so the
//! points of a rule are its log-odds weight × PDO / ln 2, rounded to a whole number.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Whole points, as a marketer enters them in an automation tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Points(pub i64);

impl std::fmt::Display for Points {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:+}", self.0)
    }
}

/// The points scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsScale {
    /// Points that double the odds of conversion.
    pub points_to_double_odds: f64,
}

impl PointsScale {
    pub fn new(points_to_double_odds: f64) -> Result<Self> {
        if !(points_to_double_odds.is_finite() && points_to_double_odds >= 1.0) {
            return Err(Error::Option {
                option: "--points-to-double-odds",
                message: format!("{points_to_double_odds} must be a number of at least 1"),
            });
        }
        Ok(PointsScale {
            points_to_double_odds,
        })
    }

    /// Points per unit of log-odds.
    pub fn factor(&self) -> f64 {
        self.points_to_double_odds / std::f64::consts::LN_2
    }

    pub fn points(&self, weight: f64) -> Points {
        Points((weight * self.factor()).round() as i64)
    }

    /// The log-odds a number of points stands for.
    pub fn log_odds(&self, points: f64) -> f64 {
        points / self.factor()
    }
}

/// Most units a per-unit feature may count: every whole number up to 2^53 is an exact f64,
/// above it f64 → i64 would give a nearby number instead of the one in the data.
pub const MAX_UNITS: f64 = 9_007_199_254_740_992.0;

/// A score that points cannot hold: which rule (index) and why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow {
    pub rule: usize,
    pub message: String,
}

/// The points rule `rule` gives for feature `f` (0/1, or whole units), checked: a feature
/// above [`MAX_UNITS`] or a product beyond i64 is an [`Overflow`], never a wrapped number.
pub fn given(rule: usize, points: Points, f: f64) -> Result<i64, Overflow> {
    // NaN is not within the range either.
    if !(-MAX_UNITS..=MAX_UNITS).contains(&f) {
        return Err(Overflow {
            rule,
            message: format!(
                "{} units is more than a score can count exactly (at most 2^53 = {}); give                  the rule a `cap`",
                crate::rules::format_number(f),
                MAX_UNITS as i64
            ),
        });
    }
    points.0.checked_mul(f as i64).ok_or_else(|| Overflow {
        rule,
        message: format!(
            "{} units × {} points is beyond what a score can hold ({}); give the rule a              smaller `cap`",
            crate::rules::format_number(f),
            points.0,
            i64::MAX
        ),
    })
}

/// A lead's score: Σ points × feature, where features are 0/1 or whole units. Checked: an
/// [`Overflow`] names the rule whose points do not fit.
pub fn score(points: &[Points], features: impl IntoIterator<Item = f64>) -> Result<i64, Overflow> {
    let mut total: i64 = 0;
    for (j, (&p, f)) in points.iter().zip(features).enumerate() {
        total = total.checked_add(given(j, p, f)?).ok_or_else(|| Overflow {
            rule: j,
            message: format!(
                "its points take the score beyond what a score can hold ({})",
                i64::MAX
            ),
        })?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_points_double_the_odds() {
        let scale = PointsScale::new(20.0).unwrap();
        assert_eq!(scale.points(std::f64::consts::LN_2), Points(20));
        assert_eq!(scale.points(-std::f64::consts::LN_2 / 2.0), Points(-10));
        assert!(PointsScale::new(0.0).is_err());
        assert_eq!(score(&[Points(10), Points(-3)], [2.0, 1.0]), Ok(17));
    }

    #[test]
    fn scores_at_the_i64_boundary_are_errors_not_panics() {
        // i64::MAX fits; one point more does not.
        let max = i64::MAX;
        assert_eq!(score(&[Points(max)], [1.0]), Ok(max));
        assert_eq!(score(&[Points(-max)], [1.0]), Ok(-max));
        assert_eq!(score(&[Points(max), Points(-1)], [1.0, 1.0]), Ok(max - 1));
        let sum = score(&[Points(max), Points(1)], [1.0, 1.0]).unwrap_err();
        assert_eq!(sum.rule, 1, "{sum:?}");
        let product = score(&[Points(1), Points(2)], [1.0, (max / 2 + 1) as f64]);
        // (max / 2 + 1) is above 2^53: refused before it is multiplied.
        assert!(product.unwrap_err().message.contains("2^53"));
        // 2^53 units fit; × 1024 points does not (2^63).
        assert_eq!(score(&[Points(1)], [MAX_UNITS]), Ok(1 << 53));
        assert_eq!(score(&[Points(1023)], [MAX_UNITS]), Ok(1023 << 53));
        let e = score(&[Points(1024)], [MAX_UNITS]).unwrap_err();
        assert!(e.message.contains("× 1024 points"), "{e:?}");
        assert_eq!(score(&[Points(-1024)], [MAX_UNITS]), Ok(i64::MIN));
        assert!(score(&[Points(-1025)], [MAX_UNITS]).is_err());
        // The absurd page views of issue 17 (1e20 as f64) and non-finite features.
        assert!(score(&[Points(3)], [99999999999999999999.0]).is_err());
        assert!(score(&[Points(3)], [f64::INFINITY]).is_err());
        assert!(score(&[Points(3)], [f64::NAN]).is_err());
    }
}
