//! Why a job run failed.

use ports::{JobType, PortError};

/// A failed job run; the distributed worker retries it, the local pool counts it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The payload does not have the shape its job type requires.
    #[error("invalid payload for a {job_type} job: {reason}")]
    InvalidPayload {
        /// The job type whose payload was wrong.
        job_type: JobType,
        /// What was wrong, for the log.
        reason: String,
    },
    /// The cache (or the database, for reserved keys) failed.
    #[error("cache operation failed: {0}")]
    Port(#[from] PortError),
}
