//! What the handlers of a namespace's admin API share.

use std::sync::Arc;
use std::time::Instant;

use crate::condition::Condition;
use crate::namespace::Namespace;

#[derive(Clone)]
pub struct AdminState {
    pub ns: Arc<Namespace>,
    /// When the server started.
    pub started: Instant,
    /// What has stopped in the server.
    pub condition: Arc<Condition>,
}
