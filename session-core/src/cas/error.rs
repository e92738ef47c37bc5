//! The error of a compare-and-swap store.

/// Why a [`CasStore`](super::CasStore) operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CasError {
    /// The store could not be reached or refused the operation; the layer
    /// answers `503`.
    #[error("the session store failed: {0}")]
    Backend(String),
    /// The store holds something under the id that is not a session record
    /// this release can read; the layer answers `500` and never overwrites
    /// it.
    #[error("the stored session record cannot be read: {0}")]
    Decode(String),
    /// The record could not be written in the store's format.
    #[error("the session record cannot be stored: {0}")]
    Encode(String),
}

impl CasError {
    /// Whether the store was reached but what it holds does not decode.
    #[must_use]
    pub fn is_corrupt_record(&self) -> bool {
        matches!(self, CasError::Decode(_))
    }
}
