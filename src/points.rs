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

/// A lead's score: Σ points × feature, where features are 0/1 or whole units.
pub fn score(points: &[Points], features: impl IntoIterator<Item = f64>) -> i64 {
    points
        .iter()
        .zip(features)
        .map(|(p, f)| p.0 * f as i64)
        .sum()
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
        assert_eq!(score(&[Points(10), Points(-3)], [2.0, 1.0]), 17);
    }
}
