//! Starting a server: its options (`options`), the listeners bound and everything wired
//! together (`start`), and the start-up banner (`banner`).

mod banner;
mod options;
mod start;

pub use crate::runs::DEFAULT_LIMIT as DEFAULT_MAX_RUNS;
pub use options::{parse_listen_arg, parse_san, Listen, Options};
pub use start::{start, Running};
