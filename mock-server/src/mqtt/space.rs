//! Namespaces in the one shared engine. Every namespace of a server (its default one, and one
//! per run) has MQTT listeners of its own, but they all relay into the same rumqttd. So that runs
//! never meet there, a run's gate renames what the engine routes by: topic names and filters
//! (also inside `$share/{group}/`), will topics and client ids get the run's prefix on the way
//! in, and topics lose it on the way out. Clients, authorities, faults and the journal only ever
//! see the names the client used.
//!
//! The default namespace's space is empty: names pass unchanged, exactly as before runs.

/// How every run's client ids start in the engine ([`Space::client_id`]).
const RUN_CLIENT_PREFIX: &str = "__run:";

/// How every run's topics start in the engine ([`Space::inward`]).
const RUN_TOPIC_PREFIX: &str = "__run/";

/// The engine-side prefix of one namespace (`__run/{id}/`), or none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Space {
    prefix: Option<String>,
    /// The same for client ids, which the engine forbids `/` in: `__run:{id}:`.
    client_prefix: Option<String>,
}

impl Space {
    /// The default namespace: names unchanged.
    pub fn default_namespace() -> Space {
        Space::default()
    }

    /// Run `id`'s space. Its prefix starts with a level no IoT Open installation has, so the
    /// installation ACL keeps default-namespace clients out of it.
    pub fn run(id: &str) -> Space {
        Space {
            prefix: Some(format!("{RUN_TOPIC_PREFIX}{id}/")),
            client_prefix: Some(format!("{RUN_CLIENT_PREFIX}{id}:")),
        }
    }

    pub fn is_default(&self) -> bool {
        self.prefix.is_none()
    }

    /// Whether a client's own id `id` would reach the engine as a run's id: in the default
    /// namespace, whose ids pass unchanged, an id of the form `__run:{id}:...` would take over
    /// that run's client and inherit its session. Such ids are refused there.
    pub fn is_foreign_client_id(&self, id: &str) -> bool {
        self.is_default() && id.starts_with(RUN_CLIENT_PREFIX)
    }

    /// A client id as the engine knows it (run ids have no `:`, so no two runs' ids meet); an
    /// empty one (the engine assigns one) stays empty.
    pub fn client_id(&self, id: &str) -> String {
        match &self.client_prefix {
            Some(prefix) if !id.is_empty() => format!("{prefix}{id}"),
            _ => id.to_owned(),
        }
    }

    /// A topic name or filter as the engine knows it. Shared subscriptions keep
    /// `$share/{group}/` in front.
    pub fn inward(&self, name: &str) -> String {
        let Some(prefix) = &self.prefix else { return name.to_owned() };
        if let Some(rest) = name.strip_prefix("$share/") {
            if let Some((group, inner)) = rest.split_once('/') {
                return format!("$share/{group}/{prefix}{inner}");
            }
        }
        format!("{prefix}{name}")
    }

    /// A topic the engine delivers, as the client knows it; `None` when it is not of this
    /// space (it is then not delivered: nothing crosses between namespaces, and a wildcard of
    /// the default namespace matches runs' topics in the engine but never receives them).
    pub fn outward<'a>(&self, topic: &'a str) -> Option<&'a str> {
        match &self.prefix {
            None if topic.starts_with(RUN_TOPIC_PREFIX) => None,
            None => Some(topic),
            Some(prefix) => topic.strip_prefix(prefix.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_run_prefixes_names_and_strips_topics() {
        let run = Space::run("r1");
        assert_eq!(run.inward("1001/obj/x"), "__run/r1/1001/obj/x");
        assert_eq!(run.inward("$share/g/1001/#"), "$share/g/__run/r1/1001/#");
        assert_eq!(run.client_id("sensor-1"), "__run:r1:sensor-1");
        assert!(Space::default_namespace().is_foreign_client_id(&run.client_id("sensor-1")));
        assert!(!Space::default_namespace().is_foreign_client_id("sensor-1"));
        assert!(!run.is_foreign_client_id("__run:r1:x"), "in a run it gets the run's prefix anyway");
        assert_eq!(run.client_id(""), "", "the engine assigns one");
        assert_eq!(Space::default_namespace().client_id("sensor-1"), "sensor-1");
        assert_eq!(run.outward("__run/r1/1001/obj/x"), Some("1001/obj/x"));
        assert_eq!(run.outward("1001/obj/x"), None, "a default-namespace topic never reaches a run");
        assert_eq!(run.outward("__run/r2/1001/obj/x"), None, "nor another run's");
        let default = Space::default_namespace();
        assert_eq!(default.inward("$share/g/a"), "$share/g/a");
        assert_eq!(default.outward("a/b"), Some("a/b"));
        assert_eq!(
            default.outward(&run.inward("1001/obj/x")),
            None,
            "a run's topic never reaches the default namespace"
        );
    }

    proptest! {
        #[test]
        fn outward_undoes_inward(id in "[A-Za-z0-9._-]{1,64}", topic in "[^\\u{0}#+$]{1,60}") {
            let space = Space::run(&id);
            let inward = space.inward(&topic);
            prop_assert_eq!(space.outward(&inward), Some(topic.as_str()));
        }
    }
}
