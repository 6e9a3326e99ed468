//! One folder per provider: its profile (`profile.rs`), the journal events its checks read
//! (`journal.rs`), one file per check, and its registration (`mod.rs`), which the registry lists.
//! A provider's folder imports only the check contract.

pub(crate) mod iotopen;
pub(crate) mod kalibrate;
pub(crate) mod knoema;
pub(crate) mod openenergy;
pub(crate) mod opinum;
