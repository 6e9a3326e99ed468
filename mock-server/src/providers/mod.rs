//! The providers, one folder each, and their registry: the only shared place that names them.
//!
//! A provider is a folder here whose type implements `ProviderKind` and `Provider`
//! (`contract/provider.rs`). Registering it is one line in the `registry!` list at the end of
//! this file: `folder: Type`. Everything else is derived from that list: the fixtures document
//! (`[journal]` and a table per provider), the server certificate's host names, the service
//! keys and their listeners, and the providers built in each namespace.

use std::any::{Any, TypeId};
use std::sync::{Arc, Weak};

use serde::{Deserialize, Serialize};

use crate::contract::{Provider, ProviderKind, ServiceSpec};
use crate::fixtures::{self, ConfigError, Document, FixturesSource, Issue, ProviderFixtures};
use crate::journal::JournalSettings;
use crate::namespace::{Namespace, Reset};

/// What the registry knows of one provider before any namespace exists.
pub struct Registered {
    pub name: &'static str,
    pub services: &'static [ServiceSpec],
    build: fn(Arc<Namespace>) -> anyhow::Result<Arc<dyn Provider>>,
}

/// A provider built in a namespace, with its name.
#[derive(Clone)]
pub struct Built {
    pub name: &'static str,
    pub provider: Arc<dyn Provider>,
}

fn build<K: ProviderKind>(namespace: Arc<Namespace>) -> anyhow::Result<Arc<dyn Provider>> {
    Ok(Arc::new(K::build(namespace)?))
}

/// Builds every provider in `namespace` and hands the namespace their state, for its reset.
pub fn build_all(namespace: &Arc<Namespace>) -> anyhow::Result<Vec<Built>> {
    let built = ALL
        .iter()
        .map(|r| Ok(Built { name: r.name, provider: (r.build)(namespace.clone())? }))
        .collect::<anyhow::Result<Vec<Built>>>()?;
    let state: Vec<Weak<dyn Reset>> =
        built.iter().map(|b| Arc::downgrade(&(b.provider.clone() as Arc<dyn Reset>))).collect();
    namespace.attach_providers(state);
    Ok(built)
}

/// Every real hostname of every service, for the server certificate.
pub fn hostnames() -> Vec<&'static str> {
    ALL.iter().flat_map(|r| r.services).flat_map(|s| s.hosts.iter().copied()).collect()
}

/// `(provider, service)` of a service key such as `knoema.api`, if there is one.
pub fn service_key(key: &str) -> Option<(&'static str, &'static ServiceSpec)> {
    let (provider, service) = key.split_once('.')?;
    let registered = ALL.iter().find(|r| r.name == provider)?;
    registered.services.iter().find(|s| s.name == service).map(|s| (registered.name, s))
}

/// Every service key (`kalibrate.login`), in registry order.
pub fn service_keys() -> impl Iterator<Item = (&'static str, &'static ServiceSpec)> {
    ALL.iter().flat_map(|r| r.services.iter().map(move |s| (r.name, s)))
}

/// Reads a whole fixtures document, validated; `file` names it in messages.
pub fn parse_fixtures(file: &str, text: &str) -> Result<Arc<dyn Document>, ConfigError> {
    Ok(Arc::new(fixtures::parse::<Fixtures>(file, text)?))
}

impl Fixtures {
    /// Reads and validates fixtures text, as `check-config` does; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<Fixtures, ConfigError> {
        fixtures::parse(file, text)
    }

    /// Reads and validates the fixtures of `source`.
    pub fn load(source: &FixturesSource) -> Result<Fixtures, ConfigError> {
        Fixtures::parse(&source.name(), &source.text()?)
    }

    /// What the fixtures hold, a phrase per provider, for `check-config`.
    pub fn summary(&self) -> Vec<String> {
        Document::summary(self)
    }
}

/// The typed part of a namespace's test API: only the registry knows the fixtures' type.
impl Namespace {
    /// The fixtures served now.
    pub fn fixtures(&self) -> Arc<Fixtures> {
        self.document().into_any().downcast().expect("every namespace serves the registry's fixtures")
    }

    /// Serves `fixtures` until the next [`Namespace::reset`]; tokens and stored data restart.
    pub fn replace_fixtures(&self, fixtures: Fixtures) {
        self.serve(Arc::new(fixtures));
    }
}

/// The registry: `folder: Type` for every provider, in the order the fixtures document lists
/// their tables. It declares each folder as a module, builds the typed [`Fixtures`] document
/// with a table per provider, and the [`ALL`] list the server reads.
macro_rules! registry {
    ($($folder:ident: $kind:ident),* $(,)?) => {
        $(pub mod $folder;)*

        /// Every provider, in registry order.
        pub const ALL: &[Registered] = &[$(Registered {
            name: <$folder::$kind as ProviderKind>::NAME,
            services: <$folder::$kind as ProviderKind>::SERVICES,
            build: build::<$folder::$kind>,
        }),*];

        /// Everything a fixtures file may contain: `[journal]` and a table per provider.
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Fixtures {
            #[serde(default)]
            pub journal: JournalSettings,
            $(
                #[serde(default)]
                pub $folder: <$folder::$kind as ProviderKind>::Fixtures,
            )*
        }

        impl Document for Fixtures {
            fn journal_capacity(&self) -> usize {
                self.journal.capacity
            }

            fn journal_bodies(&self) -> bool {
                self.journal.bodies
            }

            fn validate(&self) -> Vec<Issue> {
                let mut issues = self.journal.validate();
                $(issues.extend(self.$folder.validate());)*
                issues
            }

            fn summary(&self) -> Vec<String> {
                vec![$(self.$folder.summary()),*]
            }

            fn secrets(&self) -> Vec<&str> {
                let mut secrets = Vec::new();
                $(secrets.extend(self.$folder.secrets());)*
                secrets
            }

            fn to_json(&self) -> serde_json::Value {
                serde_json::to_value(self).unwrap_or_default()
            }

            fn section(&self, id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
                $(if id == TypeId::of::<<$folder::$kind as ProviderKind>::Fixtures>() {
                    return Some(&self.$folder);
                })*
                None
            }

            fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
                self
            }
        }
    };
}

registry! {
    iotopen: IotOpen,
    kalibrate: Kalibrate,
    knoema: Knoema,
    opinum: Opinum,
    openenergy: OpenEnergy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        Fixtures::parse("default.toml", &FixturesSource::Embedded.text().unwrap()).unwrap();
    }

    #[test]
    fn unknown_key_names_file_line_and_fix() {
        let err = Fixtures::parse("f.toml", "[journal]\ncapacity = 10\ncapacitty = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("f.toml:3: journal.capacitty: unknown field"), "{text}");
        assert!(text.contains("fix:"), "{text}");
    }

    #[test]
    fn a_problem_is_reported_on_the_line_of_its_own_provider_key() {
        // Kalibrate writes a key of the same name first, on another line.
        let default = FixturesSource::Embedded.text().unwrap();
        let (before, _) = default.split_once("token_lifetime_seconds = 600").unwrap();
        let line = before.lines().count() + 1;
        assert!(before.contains("token_lifetime_seconds"), "the case this test is about");
        let text = default.replace("token_lifetime_seconds = 600", "token_lifetime_seconds = 0");
        let err = Fixtures::parse("f.toml", &text).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("f.toml:{line}: openenergy.token_lifetime_seconds: 0 is out of range")),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_is_explained() {
        let err = Fixtures::parse("f.toml", "[journal]\ncapacity = \"ten\"\n").unwrap_err().to_string();
        assert!(err.contains("f.toml:2: journal.capacity: "), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn every_provider_is_named_after_its_folder_and_table() {
        let document = serde_json::to_value(Fixtures::default()).unwrap();
        for registered in ALL {
            assert!(document.get(registered.name).is_some(), "{} has no table named after it", registered.name);
        }
        assert_eq!(document.as_object().unwrap().len(), ALL.len() + 1, "a table per provider, and [journal]");
    }
}
