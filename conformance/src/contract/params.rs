//! A check's parameters: what it declares it accepts, and the values one use of it in a
//! scenario's `[[checks]]` table gives, validated when the scenario loads.

/// A parameter a check accepts in a scenario's `[[checks]]` table: whole numbers only, which is
/// all the checks need (counts and seconds).
pub struct ParamSpec {
    pub name: &'static str,
    pub default: i64,
    pub help: &'static str,
}

/// Validated parameters of one use of a check.
#[derive(Debug, Clone, Default)]
pub struct Params(std::collections::BTreeMap<String, i64>);

impl Params {
    /// Checks names and types against `specs`; errors as `(key, message, hint)`.
    pub fn validated(specs: &[ParamSpec], table: toml::Table) -> Result<Params, (String, String, String)> {
        let mut values = std::collections::BTreeMap::new();
        for (key, value) in table {
            let Some(spec) = specs.iter().find(|s| s.name == key) else {
                let known: Vec<String> = specs.iter().map(|s| format!("{} ({})", s.name, s.help)).collect();
                let hint = if known.is_empty() {
                    "this check takes no parameters".to_owned()
                } else {
                    format!("its parameters: {}", known.join("; "))
                };
                return Err((key.clone(), format!("unknown parameter '{key}' for this check"), hint));
            };
            let Some(number) = value.as_integer().filter(|n| *n >= 0) else {
                return Err((
                    key,
                    format!("must be a whole number, not {value}"),
                    format!("e.g. {} = {}", spec.name, spec.default),
                ));
            };
            values.insert(key, number);
        }
        for spec in specs {
            values.entry(spec.name.to_owned()).or_insert(spec.default);
        }
        Ok(Params(values))
    }

    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or_default()
    }
}
