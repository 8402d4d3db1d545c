//! mqlcal learns lead-scoring points and a calibrated MQL threshold from sales outcomes.
//!
//! The stages, in the order data flows through them:
//! [`data`] (load CSV/Parquet) → [`rules`] (rules file or proposed rules → features) →
//! [`fit`] (L2 logistic regression, cross-validated strength) → [`points`] (weights → integer
//! points) → [`calibrate`] (score → probability) → [`threshold`] (MQL policy) → [`model`] (the
//! versioned model file, and scoring). [`train`] runs the whole pipeline.
//!
//! Scoring a lead held in memory needs only [`model`] and [`rules`]; see
//! [`model::Model::score_lead`].

pub mod atomic;
pub mod calibrate;
pub mod data;
pub mod error;
pub mod fit;
pub mod leakage;
pub mod metrics;
pub mod model;
pub mod points;
pub mod profile;
pub mod report;
pub mod rules;
pub mod synth;
pub mod threshold;
pub mod train;

pub use error::{Error, Result};
