//! OAuth scopes a third party may ask an IoT Open user for, and the Lynx permissions each one
//! grants (no more than the user's role holds, and no more than the credential that consents
//! holds).

use std::collections::BTreeSet;

use super::access;

/// Scope → what it allows (the `{object}/{action}` part of Lynx permissions; the user's role
/// decides between `all` and `assigned`).
pub const SCOPES: &[(&str, &str, &[&str])] = &[
    ("installation:read", "See the installations you choose", &[access::INSTALLATION_LIST]),
    ("functionx:read", "Read functions", &[access::FUNCTIONX_LIST]),
    (
        "functionx:write",
        "Create, change and delete functions",
        &[access::FUNCTIONX_UPDATE, access::FUNCTIONX_CREATE_DELETE],
    ),
    ("devicex:read", "Read devices", &[access::DEVICEX_LIST]),
    ("devicex:write", "Create, change and delete devices", &[access::DEVICEX_UPDATE, access::DEVICEX_CREATE_DELETE]),
    ("status:read", "Read current values", &[access::STATUS_READ]),
    ("log:read", "Read the history of values", &[access::LOG_READ]),
    ("mqtt:subscribe", "Receive real-time values over MQTT", &[access::MQTT_SUBSCRIBE]),
    ("mqtt:publish", "Send values and commands over MQTT", &[access::MQTT_PUBLISH]),
];

/// The permissions consented scopes give a user with role permissions `role`.
pub fn permissions_of(scopes: &BTreeSet<String>, role: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, _, actions) in SCOPES {
        if scopes.contains(*name) {
            for action in *actions {
                for reach in ["all", "assigned"] {
                    let p = format!("{action}/{reach}");
                    if role.contains(&p) {
                        out.insert(p);
                    }
                }
            }
        }
    }
    out
}

/// The first of `scopes` that would give a user with role permissions `role` something the
/// consenting credential does not hold (`held`): a credential never grants more than it holds.
pub fn beyond<'s>(scopes: &'s BTreeSet<String>, role: &BTreeSet<String>, held: &BTreeSet<String>) -> Option<&'s str> {
    scopes
        .iter()
        .find(|scope| permissions_of(&BTreeSet::from([(*scope).clone()]), role).iter().any(|p| !held.contains(p)))
        .map(String::as_str)
}
