//! mqlcal learns lead-scoring points and a calibrated MQL threshold from sales outcomes.
//!
//! The stages, in the order data flows through them:
//! [`data`] (load CSV/Parquet) → [`rules`] (rules file or proposed rules → features) →
//! [`fit`] (L2 logistic regression, cross-validated strength) → [`points`] (weights → integer
//! points) → [`calibrate`] (score → probability) → [`threshold`] (MQL policy) → [`model`] (the
//! versioned model file, and scoring). [`train`] runs the whole pipeline.
//!
//! [`export`] writes a model as SQL for a warehouse, a PMML scorecard or a points sheet;
//! [`report`] draws the conversion diagnostics.
//!
//! # Scoring from another program
//!
//! Loading a model file and scoring leads held in memory needs only [`model`] and [`rules`],
//! not polars: with `default-features = false` (no `data` feature) the library compiles
//! without it. [`model::Model::cell`] reads a text cell as `mqlcal score` does (trimmed; empty
//! or one of the model's placeholders is missing); [`model::Model::score_lead`] scores one
//! lead, [`model::Model::score_leads`] a batch.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mqlcal::model::Model;
//!
//! let model = Model::load(std::path::Path::new("models/lead-model.json"))?;
//! // One lead as text fields, e.g. from a form or a CRM record; columns it lacks are missing.
//! let lead = [("job_level", "VP"), ("pricing_page_visits", " 4 "), ("budget_confirmed", "yes")];
//! let scored = model.score_lead(|column| {
//!     model.cell(lead.iter().find(|(c, _)| *c == column).map(|(_, v)| *v))
//! })?;
//! // A VP with four pricing-page visits and a confirmed budget is well past the threshold.
//! assert!(scored.mql && scored.score >= model.threshold.threshold.points);
//! println!(
//!     "{} points, p = {:.3}, MQL: {}; {}",
//!     scored.score,
//!     scored.probability.0,
//!     scored.mql,
//!     model.reasons_text(&scored, 3)
//! );
//! # Ok(())
//! # }
//! ```

pub mod atomic;
pub mod calibrate;
pub mod caps;
#[cfg(feature = "data")]
pub mod data;
pub mod error;
#[cfg(feature = "data")]
pub mod events;
pub mod export;
pub mod fit;
pub mod grades;
pub mod group;
pub mod leakage;
pub mod metrics;
pub mod model;
pub mod outcome;
pub mod points;
pub mod profile;
pub mod progress;
#[cfg(feature = "data")]
pub mod registry;
#[cfg(feature = "data")]
pub mod report;
#[cfg(feature = "data")]
pub mod retrain;
pub mod rules;
#[cfg(feature = "serve")]
pub mod serve;
#[cfg(feature = "data")]
pub mod synth;
pub mod threshold;
#[cfg(feature = "data")]
pub mod train;

pub use error::{Error, Result};
