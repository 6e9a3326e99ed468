//! What the runner and the common checks need to know about each provider: its actions, how to
//! recognise its token requests, which service is its API, and the environment its clients get.

use crate::contract::Profile;

pub mod iotopen;
pub mod kalibrate;
pub mod knoema;
pub mod openenergy;
pub mod opinum;

pub fn all() -> &'static [Profile] {
    &[kalibrate::PROFILE, opinum::PROFILE, openenergy::PROFILE, knoema::PROFILE, iotopen::PROFILE]
}

pub fn find(name: &str) -> Option<&'static Profile> {
    all().iter().find(|p| p.name == name)
}
