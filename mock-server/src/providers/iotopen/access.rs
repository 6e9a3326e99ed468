//! What a credential may reach (docs/providers/iotopen.md#authorization; IoT Open,
//! <https://iotopen.se/api-for-att-tillgangliggora-data/>: "a token only gives access to the data
//! the user has ...
//! If API keys with higher permissions are used, what key gives the opportunity to perform from
//! key to key is set").
//!
//! Lynx names permissions `{object}/{action}/all` and `{object}/{action}/assigned` (node-lynx's
//! `Permissions`): `all` reaches every installation of the user's organisations, `assigned` only
//! those assigned to the user. A credential's permissions are its user's role's, narrowed by the
//! key's own list when it has one, or by the scopes an OAuth consent granted; an OAuth token is
//! further narrowed to the installations the user chose. The same [`Access`] decides REST
//! routes and MQTT topics, so both always agree.

use std::collections::BTreeSet;

/// Actions on installations (the `{object}/{action}` part).
pub const INSTALLATION_LIST: &str = "installation/list";
pub const FUNCTIONX_LIST: &str = "functionx/list";
pub const FUNCTIONX_CREATE_DELETE: &str = "functionx/create_delete";
pub const FUNCTIONX_UPDATE: &str = "functionx/update";
pub const DEVICEX_LIST: &str = "devicex/list";
pub const DEVICEX_CREATE_DELETE: &str = "devicex/create_delete";
pub const DEVICEX_UPDATE: &str = "devicex/update";
pub const STATUS_READ: &str = "status/read";
pub const LOG_READ: &str = "log/read";
pub const MQTT_SUBSCRIBE: &str = "mqtt/subscribe";
pub const MQTT_PUBLISH: &str = "mqtt/publish";
/// Subscribing with a wildcard first level (`#`, `+/obj/#`): every reachable installation at once.
pub const MQTT_SUBSCRIBE_BROAD: &str = "mqtt/subscribe/broad";
/// Making and revoking one's own API keys.
pub const TOKEN_CREATE_DELETE: &str = "user/security/token/create_delete";

#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    pub user_id: i64,
    /// Who this is for the journal and logs (`user 11 key 3`), never a secret.
    pub principal: String,
    pub permissions: BTreeSet<String>,
    /// Installations assigned to the user.
    pub assigned: BTreeSet<i64>,
    /// Installations of the user's organisations.
    pub organization: BTreeSet<i64>,
    /// An OAuth consent's installations: nothing outside them, whatever the permissions.
    pub only: Option<BTreeSet<i64>>,
}

impl Access {
    /// Whether `action` (`status/read`) is allowed on `installation`.
    pub fn can(&self, action: &str, installation: i64) -> bool {
        if self.only.as_ref().is_some_and(|only| !only.contains(&installation)) {
            return false;
        }
        (self.organization.contains(&installation) && self.has(&format!("{action}/all")))
            || (self.assigned.contains(&installation) && self.has(&format!("{action}/assigned")))
    }

    /// Every installation where `action` is allowed.
    pub fn reachable(&self, action: &str) -> BTreeSet<i64> {
        self.organization.union(&self.assigned).copied().filter(|i| self.can(action, *i)).collect()
    }

    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }
}

/// The permissions a credential ends up with: the role's, narrowed by an explicit list.
pub fn narrowed(role: &BTreeSet<String>, only: Option<&[String]>) -> BTreeSet<String> {
    match only {
        None => role.clone(),
        Some(list) => list.iter().filter(|p| role.contains(*p)).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(permissions: &[&str]) -> Access {
        Access {
            user_id: 1,
            principal: "user 1".into(),
            permissions: permissions.iter().map(|s| s.to_string()).collect(),
            assigned: [10].into(),
            organization: [10, 20].into(),
            only: None,
        }
    }

    #[test]
    fn all_reaches_the_organisation_assigned_only_the_user() {
        let user = access(&["status/read/assigned"]);
        assert!(user.can(STATUS_READ, 10));
        assert!(!user.can(STATUS_READ, 20));
        assert!(!user.can(LOG_READ, 10));
        let admin = access(&["status/read/all"]);
        assert!(admin.can(STATUS_READ, 20));
        assert!(!admin.can(STATUS_READ, 30), "not in the organisation");
        assert_eq!(admin.reachable(STATUS_READ), [10, 20].into());
        let consented = Access { only: Some([20].into()), ..admin };
        assert!(!consented.can(STATUS_READ, 10));
        assert!(consented.can(STATUS_READ, 20));
    }

    #[test]
    fn a_key_list_narrows_and_never_widens() {
        let role: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        assert_eq!(narrowed(&role, None), role);
        assert_eq!(narrowed(&role, Some(&["b".into(), "c".into()])), ["b".to_string()].into());
    }
}
