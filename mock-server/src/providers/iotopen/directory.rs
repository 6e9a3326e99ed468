//! Who and what exists: roles, organisations, users and installations from the fixtures, with
//! the lookups every route needs (installation by id or by MQTT client id, user by email).
//! Read-only between resets.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::fixtures::{Fixtures, Installation, Role, User};

#[derive(Default)]
pub struct Directory {
    roles: HashMap<i64, Role>,
    users: HashMap<i64, User>,
    by_email: HashMap<String, i64>,
    installations: BTreeMap<i64, Installation>,
    by_client_id: HashMap<i64, i64>,
}

impl Directory {
    pub fn new(f: &Fixtures) -> Directory {
        Directory {
            roles: f.roles.iter().map(|r| (r.id, r.clone())).collect(),
            users: f.users.iter().map(|u| (u.id, u.clone())).collect(),
            by_email: f.users.iter().map(|u| (u.email.to_ascii_lowercase(), u.id)).collect(),
            installations: f.installations.iter().map(|i| (i.id, i.clone())).collect(),
            by_client_id: f.installations.iter().map(|i| (i.client_id, i.id)).collect(),
        }
    }

    pub fn user(&self, id: i64) -> Option<&User> {
        self.users.get(&id)
    }

    /// Emails are matched without regard to case, as logins are.
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.by_email.get(&email.to_ascii_lowercase()).and_then(|id| self.users.get(id))
    }

    pub fn installation(&self, id: i64) -> Option<&Installation> {
        self.installations.get(&id)
    }

    pub fn by_client_id(&self, client_id: i64) -> Option<&Installation> {
        self.by_client_id.get(&client_id).and_then(|id| self.installations.get(id))
    }

    /// The permissions of the user's role.
    pub fn role_permissions(&self, user: &User) -> BTreeSet<String> {
        self.roles.get(&user.role).map(|r| r.permissions.iter().cloned().collect()).unwrap_or_default()
    }

    /// Every installation of the user's organisations: what an `.../all` permission reaches.
    pub fn organization_installations(&self, user: &User) -> BTreeSet<i64> {
        self.installations.values().filter(|i| user.organizations.contains(&i.organization_id)).map(|i| i.id).collect()
    }

    /// Users assigned to an installation, by id.
    pub fn users_of(&self, installation: i64) -> Vec<i64> {
        let mut ids: Vec<i64> =
            self.users.values().filter(|u| u.installations.contains(&installation)).map(|u| u.id).collect();
        ids.sort_unstable();
        ids
    }
}
