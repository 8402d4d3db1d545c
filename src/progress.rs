//! Progress of the long steps (cross-validation, refits for intervals), reported to whoever
//! listens: the command line draws bars, a service embedding the library may log or ignore it.
//! Takes nothing; gives the [`Progress`] trait and [`Silent`], the listener that does nothing.

/// Receives the steps of a long computation, one step at a time. Called from worker threads,
/// hence `Sync`.
pub trait Progress: Sync {
    /// A step begins, with `total` units of work (for example fits) when known; it ends the
    /// step before it, if any.
    fn begin(&self, step: &str, total: Option<u64>);
    /// `n` more units of the current step are done.
    fn advance(&self, n: u64);
    /// The current step is over.
    fn end(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
}
