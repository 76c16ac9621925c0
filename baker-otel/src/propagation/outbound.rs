//! Outbound propagation policy: which destinations receive trace context and baggage.
//!
//! Baggage has no integrity protection and, on a public entry point, may come from anyone
//! (OpenTelemetry's baggage documentation warns that it is sent to every downstream service,
//! third-party APIs included). The default policy therefore sends baggage only to
//! [internal](Destinations::internal) destinations — loopback and private addresses, single-label
//! host names (`extension`, Kubernetes short service names) and the `.local`, `.internal`,
//! `.localhost`, `.svc` and `.cluster.local` domains — and trace context everywhere (as W3C
//! intends). An LLM provider such as `api.openai.com` gets `traceparent` but never `baggage`.
//!
//! ```
//! use baker_otel::propagation::{Destinations, OutboundPolicy};
//! let policy = OutboundPolicy::default();
//! assert!(policy.sends_baggage_to(Some("extension")));
//! assert!(policy.sends_baggage_to(Some("10.0.3.7")));
//! assert!(!policy.sends_baggage_to(Some("api.openai.com")));
//! assert!(policy.sends_trace_context_to(Some("api.openai.com")));
//!
//! let strict = OutboundPolicy::default()
//!     .baggage_to(Destinations::hosts(["tools.example.com", "*.svc.cluster.local"]))
//!     .trace_context_to(Destinations::internal());
//! assert!(strict.sends_baggage_to(Some("tools.example.com")));
//! assert!(!strict.sends_baggage_to(Some("extension")));
//! assert!(!strict.sends_trace_context_to(Some("api.openai.com")));
//! ```

use std::borrow::Cow;
use std::net::IpAddr;

/// A set of destination hosts: exact names, domain suffixes, and whether internal hosts
/// (loopback, private addresses, single-label and cluster-local names) belong to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Destinations {
    all: bool,
    internal: bool,
    hosts: Vec<Cow<'static, str>>,
}

/// Domains treated as internal by [`Destinations::internal`].
pub const INTERNAL_SUFFIXES: [&str; 5] = [
    ".local",
    ".internal",
    ".localhost",
    ".svc",
    ".cluster.local",
];

impl Destinations {
    /// Every destination.
    ///
    /// ```
    /// assert!(baker_otel::propagation::Destinations::all().allows(Some("example.com")));
    /// ```
    pub fn all() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    /// No destination.
    ///
    /// ```
    /// assert!(!baker_otel::propagation::Destinations::none().allows(Some("localhost")));
    /// ```
    pub fn none() -> Self {
        Self::default()
    }

    /// Internal destinations: loopback, private (RFC 1918), link-local and unique-local
    /// addresses; `localhost`; single-label names; names under [`INTERNAL_SUFFIXES`].
    ///
    /// ```
    /// use baker_otel::propagation::Destinations;
    /// let d = Destinations::internal();
    /// assert!(d.allows(Some("127.0.0.1")) && d.allows(Some("worker.jobs.svc.cluster.local")));
    /// assert!(!d.allows(Some("8.8.8.8")) && !d.allows(None));
    /// ```
    pub fn internal() -> Self {
        Self {
            internal: true,
            ..Self::default()
        }
    }

    /// Exactly these hosts (case-insensitive); `*.example.com` matches any subdomain.
    ///
    /// ```
    /// use baker_otel::propagation::Destinations;
    /// let d = Destinations::hosts(["*.acme.dev"]);
    /// assert!(d.allows(Some("tools.acme.dev")) && !d.allows(Some("acme.dev")));
    /// ```
    pub fn hosts<I, H>(hosts: I) -> Self
    where
        I: IntoIterator<Item = H>,
        H: Into<Cow<'static, str>>,
    {
        Self::none().and_hosts(hosts)
    }

    /// Adds hosts to this set.
    ///
    /// ```
    /// use baker_otel::propagation::Destinations;
    /// let d = Destinations::internal().and_hosts(["tools.acme.dev"]);
    /// assert!(d.allows(Some("tools.acme.dev")) && d.allows(Some("extension")));
    /// ```
    pub fn and_hosts<I, H>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = H>,
        H: Into<Cow<'static, str>>,
    {
        self.hosts.extend(hosts.into_iter().map(|h| {
            let h: Cow<'static, str> = h.into();
            Cow::Owned(h.to_ascii_lowercase())
        }));
        self
    }

    /// Whether `host` (a URL's host; `None` when the URL has none) is in the set.
    ///
    /// ```
    /// use baker_otel::propagation::Destinations;
    /// assert!(Destinations::internal().allows(Some("[::1]")));
    /// ```
    pub fn allows(&self, host: Option<&str>) -> bool {
        if self.all {
            return true;
        }
        let Some(host) = host else {
            return false;
        };
        let host = host.trim_end_matches('.');
        if self.internal && is_internal(host) {
            return true;
        }
        self.hosts.iter().any(|p| host_matches(p, host))
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// Whether `host` is an internal destination (see [`Destinations::internal`]).
fn is_internal(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
            IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
                    || v6
                        .to_ipv4_mapped()
                        .is_some_and(|v4| v4.is_loopback() || v4.is_private())
            }
        };
    }
    if host.is_empty() {
        return false;
    }
    let lower = host.to_ascii_lowercase();
    lower == "localhost"
        || !lower.contains('.')
        || INTERNAL_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Which destinations receive which propagation fields. Default: trace context to
/// [all](Destinations::all), baggage to [internal](Destinations::internal) destinations only.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct OutboundPolicy {
    trace_context: Destinations,
    baggage: Destinations,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            trace_context: Destinations::all(),
            baggage: Destinations::internal(),
        }
    }
}

impl OutboundPolicy {
    /// Full propagation everywhere (trace context and baggage to every host): only for clients
    /// that never call third parties.
    ///
    /// ```
    /// let p = baker_otel::propagation::OutboundPolicy::everywhere();
    /// assert!(p.sends_baggage_to(Some("api.openai.com")));
    /// ```
    pub fn everywhere() -> Self {
        Self {
            trace_context: Destinations::all(),
            baggage: Destinations::all(),
        }
    }

    /// Where trace context (`traceparent`, `tracestate`) goes.
    ///
    /// ```
    /// use baker_otel::propagation::{Destinations, OutboundPolicy};
    /// let p = OutboundPolicy::default().trace_context_to(Destinations::none());
    /// assert!(!p.sends_trace_context_to(Some("localhost")));
    /// ```
    pub fn trace_context_to(mut self, d: Destinations) -> Self {
        self.trace_context = d;
        self
    }

    /// Where baggage (with the Baker ids) goes.
    ///
    /// ```
    /// use baker_otel::propagation::{Destinations, OutboundPolicy};
    /// let p = OutboundPolicy::default().baggage_to(Destinations::none());
    /// assert!(!p.sends_baggage_to(Some("localhost")));
    /// ```
    pub fn baggage_to(mut self, d: Destinations) -> Self {
        self.baggage = d;
        self
    }

    /// Whether `host` gets trace context.
    ///
    /// ```
    /// assert!(baker_otel::propagation::OutboundPolicy::default().sends_trace_context_to(None));
    /// ```
    pub fn sends_trace_context_to(&self, host: Option<&str>) -> bool {
        self.trace_context.allows(host)
    }

    /// Whether `host` gets baggage.
    ///
    /// ```
    /// assert!(!baker_otel::propagation::OutboundPolicy::default().sends_baggage_to(None));
    /// ```
    pub fn sends_baggage_to(&self, host: Option<&str>) -> bool {
        self.baggage.allows(host)
    }

    /// Whether `field` goes to every host: what may be sent where the destination cannot be
    /// known in advance (a client that follows redirects by itself may take the request to
    /// whatever host a `Location` header names).
    ///
    /// ```
    /// use baker_otel::propagation::{Field, OutboundPolicy};
    /// assert!(OutboundPolicy::default().allows_everywhere(Field::TraceParent));
    /// assert!(!OutboundPolicy::default().allows_everywhere(Field::Baggage));
    /// ```
    pub fn allows_everywhere(&self, field: super::Field) -> bool {
        match field {
            super::Field::TraceParent | super::Field::TraceState => self.trace_context.all,
            super::Field::Baggage => self.baggage.all,
        }
    }

    /// Whether `field` goes to `host`.
    ///
    /// ```
    /// use baker_otel::propagation::{Field, OutboundPolicy};
    /// assert!(!OutboundPolicy::default().allows(Field::Baggage, Some("api.anthropic.com")));
    /// ```
    pub fn allows(&self, field: super::Field, host: Option<&str>) -> bool {
        match field {
            super::Field::TraceParent | super::Field::TraceState => {
                self.sends_trace_context_to(host)
            }
            super::Field::Baggage => self.sends_baggage_to(host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "extension",
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "[::1]",
            "::1",
            "[fd00::1]",
            "worker.default.svc",
            "worker.default.svc.cluster.local",
            "db.internal",
            "printer.local",
            "app.localhost",
        ] {
            assert!(is_internal(h), "{h}");
        }
        for h in [
            "api.openai.com",
            "8.8.8.8",
            "172.32.0.1",
            "[2001:db8::1]",
            "example.internal.com",
            "",
        ] {
            assert!(!is_internal(h), "{h}");
        }
    }

    #[test]
    fn host_patterns() {
        let d = Destinations::hosts(["Tools.Acme.dev", "*.svc.example"]);
        assert!(d.allows(Some("tools.acme.dev")));
        assert!(d.allows(Some("tools.acme.dev.")));
        assert!(d.allows(Some("a.b.svc.example")));
        assert!(!d.allows(Some("svc.example")));
        assert!(!d.allows(Some("evilsvc.example")));
        assert!(!d.allows(Some("tools.acme.dev.evil.com")));
    }
}
