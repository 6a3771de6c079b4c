//! The audit log of authorization decisions (contract 11.5): records, the batched writer
//! port and the reader used to list them.

use std::net::IpAddr;

use async_trait::async_trait;
use domain::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::PortResult;

/// The stored decision (`audit_logs.decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditDecision {
    /// `allowed`.
    Allowed,
    /// `denied`.
    Denied,
}

impl AuditDecision {
    /// The stored text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        }
    }

    /// Maps the engine's outcome without depending on it.
    #[must_use]
    pub const fn from_allowed(allowed: bool) -> Self {
        if allowed { Self::Allowed } else { Self::Denied }
    }
}

/// One decision made for an HTTP request, as written to `audit_logs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The caller.
    pub user_id: UserId,
    /// `<action>_<resource>`, e.g. `read_task`.
    pub action: String,
    /// Resource kind.
    pub resource: String,
    /// The addressed resource, if any.
    pub resource_id: Option<Uuid>,
    /// Allowed or denied.
    pub decision: AuditDecision,
    /// The decision reason.
    pub reason: String,
    /// Client address; `None` when not a valid address.
    pub ip_address: Option<IpAddr>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
    /// `X-Request-ID` or a generated id.
    pub request_id: String,
    /// HTTP method.
    pub request_method: Option<String>,
    /// Request path.
    pub request_path: Option<String>,
    /// Extra context (a JSON object; includes the policy type).
    pub context: serde_json::Value,
    /// When the decision was made.
    pub timestamp: OffsetDateTime,
}

/// Where audit records go. Writing is asynchronous and best effort: callers log failures
/// and never let them change an HTTP response.
#[async_trait]
pub trait AuditSink: Send + Sync + 'static {
    /// Writes a batch in one round trip where the backend allows.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` when the batch could not be written (none or only
    /// part of it may have been stored).
    async fn write_batch(&self, records: &[AuditRecord]) -> PortResult<()>;
}

/// Filters and page of an audit listing, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this caller.
    pub user_id: Option<UserId>,
    /// Only this resource kind.
    pub resource: Option<String>,
    /// Only this decision.
    pub decision: Option<AuditDecision>,
    /// At or after.
    pub since: Option<OffsetDateTime>,
    /// Before.
    pub until: Option<OffsetDateTime>,
    /// 1-based page.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            user_id: None,
            resource: None,
            decision: None,
            since: None,
            until: None,
            page: 1,
            page_size: 50,
        }
    }
}

/// A stored audit record with its row id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAuditRecord {
    /// `audit_logs.id`.
    pub id: Uuid,
    /// The record.
    pub record: AuditRecord,
}

/// One page of an audit listing.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    /// The records, newest first.
    pub records: Vec<StoredAuditRecord>,
    /// How many records match the filters (all pages).
    pub total: u64,
}

/// Reading the audit log back (operators, tests).
#[async_trait]
pub trait AuditReader: Send + Sync + 'static {
    /// One page of matching records, newest `timestamp` first.
    ///
    /// # Errors
    /// `Unavailable`/`Timeout`/`Backend` on storage failure.
    async fn list(&self, query: &AuditQuery) -> PortResult<AuditPage>;
}

// The ports are used as `Arc<dyn Port>`: keep them object-safe.
const _: Option<&dyn AuditSink> = None;
const _: Option<&dyn AuditReader> = None;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_use_the_stored_texts() {
        assert_eq!(AuditDecision::from_allowed(true).as_str(), "allowed");
        assert_eq!(AuditDecision::from_allowed(false).as_str(), "denied");
        assert_eq!(AuditQuery::default().page, 1);
    }
}
