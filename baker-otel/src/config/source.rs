//! Where `OTEL_*` variables come from.

use std::collections::HashMap;

/// Where variables come from: the process environment or a fixed table (tests).
///
/// ```
/// use baker_otel::config::EnvSource;
/// let src = EnvSource::from_pairs([("OTEL_SERVICE_NAME", "worker")]);
/// assert_eq!(src.get("OTEL_SERVICE_NAME").as_deref(), Some("worker"));
/// ```
#[derive(Clone)]
pub struct EnvSource {
    table: Option<HashMap<String, String>>,
}

/// Lists the variable names of a fixed table, never their values (they may hold secrets).
impl std::fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.table {
            None => f.write_str("EnvSource::Process"),
            Some(t) => {
                let mut names: Vec<&str> = t.keys().map(String::as_str).collect();
                names.sort_unstable();
                f.debug_tuple("EnvSource::Table").field(&names).finish()
            }
        }
    }
}

impl EnvSource {
    /// The process environment.
    pub fn process() -> Self {
        Self { table: None }
    }

    /// A fixed table of variables; the process environment is ignored.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            table: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn is_process(&self) -> bool {
        self.table.is_none()
    }

    /// A variable's value; empty and non-UTF-8 values count as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let v = match &self.table {
            Some(t) => t.get(name).cloned(),
            None => std::env::var(name).ok(),
        }?;
        let v = v.trim().to_owned();
        (!v.is_empty()).then_some(v)
    }
}
