//! `http.server.request.duration` and `http.server.active_requests` (see docs/metrics.md).

use crate::request::METHODS;
use opentelemetry::metrics::{Histogram, Meter, ObservableUpDownCounter};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, URL_SCHEME,
};
use opentelemetry_semantic_conventions::metric::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_DURATION,
};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

/// Semantic-convention buckets of `http.server.request.duration`, in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Instrumentation scope name of the instruments.
pub(crate) const SCOPE: &str = "baker-otel-axum";

const SCHEMES: [&str; 2] = ["http", "https"];

/// `http.server.active_requests` kept in atomics (one per method × scheme) and reported by an
/// observable up-down counter: a request costs two relaxed atomic adds, not two SDK lookups.
#[derive(Debug, Default)]
struct ActiveTable {
    counts: [[AtomicI64; 2]; METHODS.len()],
    seen: [[AtomicBool; 2]; METHODS.len()],
}

#[derive(Debug, Clone)]
pub(crate) struct ServerMetrics {
    duration: Histogram<f64>,
    active: Arc<ActiveTable>,
    _observer: ObservableUpDownCounter<i64>,
}

impl ServerMetrics {
    pub(crate) fn new(meter: &Meter) -> Self {
        let active = Arc::new(ActiveTable::default());
        let table = active.clone();
        Self {
            duration: meter
                .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
                .with_unit("s")
                .with_description("Duration of HTTP server requests.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            _observer: meter
                .i64_observable_up_down_counter(HTTP_SERVER_ACTIVE_REQUESTS)
                .with_unit("{request}")
                .with_description("Number of active HTTP server requests.")
                .with_callback(move |obs| {
                    for (m, row) in table.counts.iter().enumerate() {
                        for (s, count) in row.iter().enumerate() {
                            if table.seen[m][s].load(Ordering::Relaxed) {
                                obs.observe(
                                    count.load(Ordering::Relaxed),
                                    &[
                                        KeyValue::new(HTTP_REQUEST_METHOD, METHODS[m]),
                                        KeyValue::new(URL_SCHEME, SCHEMES[s]),
                                    ],
                                );
                            }
                        }
                    }
                })
                .build(),
            active,
        }
    }

    #[inline]
    pub(crate) fn active(&self, labels: &Labels, delta: i64) {
        let (m, s) = (labels.method, usize::from(labels.https));
        if delta > 0 && !self.active.seen[m][s].load(Ordering::Relaxed) {
            self.active.seen[m][s].store(true, Ordering::Relaxed);
        }
        self.active.counts[m][s].fetch_add(delta, Ordering::Relaxed);
    }

    /// Records a duration; the attribute set comes from `cache` when it has room (no
    /// allocation, no `KeyValue` construction), else it is built for this one record.
    #[inline]
    pub(crate) fn duration(
        &self,
        secs: f64,
        labels: &Labels,
        outcome: Outcome,
        cache: Option<&AttrCache>,
    ) {
        let build = || labels.attributes(outcome);
        match cache.and_then(|c| c.get_or_insert(labels.key(outcome), &build)) {
            #[cfg(feature = "bound-instruments")]
            Some(set) => set
                .bound
                .get_or_init(|| self.duration.bind(&set.attrs))
                .record(secs),
            #[cfg(not(feature = "bound-instruments"))]
            Some(set) => self.duration.record(secs, &set.attrs),
            None => self.duration.record(secs, &build()),
        }
    }
}

/// How a request ended, as far as the metric labels are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response with this status code (`error.type` = the code when it is 5xx).
    Status(u16),
    /// The inner service failed (`error.type` = the error's type name).
    ServiceError(&'static str),
    /// The inner future panicked (`error.type = "panic"`).
    Panic,
    /// The response future was dropped first (`error.type = "cancelled"`).
    Cancelled,
}

/// Per-request label values (static or reference-counted: no allocation).
#[derive(Debug)]
pub(crate) struct Labels {
    /// Index in [`METHODS`].
    pub(crate) method: usize,
    pub(crate) https: bool,
    pub(crate) route: Option<StringValue>,
}

impl Labels {
    /// Cache key of the attribute set of this request's record. The route is not part of the
    /// key: a cache only serves requests of the route it belongs to, and a service error's type
    /// name is fixed per service type.
    fn key(&self, outcome: Outcome) -> u32 {
        let (kind, status) = match outcome {
            Outcome::Status(s) => (0, u32::from(s)),
            Outcome::ServiceError(_) => (1, 0),
            Outcome::Panic => (2, 0),
            Outcome::Cancelled => (3, 0),
        };
        // method: 4 bits, scheme: 1 bit, status: 16 bits, kind: 2 bits.
        (self.method as u32) | (u32::from(self.https) << 4) | (status << 5) | (kind << 21)
    }

    /// The `http.server.request.duration` attributes (docs/metrics.md).
    fn attributes(&self, outcome: Outcome) -> Box<[KeyValue]> {
        let mut attrs = Vec::with_capacity(5);
        attrs.push(KeyValue::new(HTTP_REQUEST_METHOD, METHODS[self.method]));
        attrs.push(KeyValue::new(URL_SCHEME, SCHEMES[usize::from(self.https)]));
        if let Some(r) = &self.route {
            attrs.push(KeyValue::new(HTTP_ROUTE, r.clone()));
        }
        match outcome {
            Outcome::Status(s) => {
                attrs.push(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(s)));
                if s >= 500 {
                    attrs.push(KeyValue::new(ERROR_TYPE, s.to_string()));
                }
            }
            Outcome::ServiceError(ty) => attrs.push(KeyValue::new(ERROR_TYPE, ty)),
            Outcome::Panic => attrs.push(KeyValue::new(ERROR_TYPE, "panic")),
            Outcome::Cancelled => attrs.push(KeyValue::new(ERROR_TYPE, "cancelled")),
        }
        attrs.into_boxed_slice()
    }
}

/// Slots of an [`AttrCache`]: distinct (method, scheme, outcome) combinations cached per route.
pub(crate) const CACHE_SLOTS: usize = 64;

/// Lock-free, append-only cache of the attribute sets of one route, keyed by
/// [`Labels::key`]. Lookups are a scan of at most [`CACHE_SLOTS`] atomic loads; once full,
/// further combinations are recorded uncached (bounded memory whatever the traffic).
#[derive(Debug)]
pub(crate) struct AttrCache {
    slots: [OnceLock<CachedSet>; CACHE_SLOTS],
}

/// One cached label set, and (feature `bound-instruments`) the histogram bound to it, so a
/// record skips the SDK's per-measurement attribute hashing.
#[derive(Debug)]
pub(crate) struct CachedSet {
    key: u32,
    pub(crate) attrs: Box<[KeyValue]>,
    #[cfg(feature = "bound-instruments")]
    bound: OnceLock<opentelemetry::metrics::BoundHistogram<f64>>,
}

impl Default for AttrCache {
    fn default() -> Self {
        Self {
            slots: [const { OnceLock::new() }; CACHE_SLOTS],
        }
    }
}

impl AttrCache {
    /// The cached attributes of `key`, inserted with `build` into the first free slot; `None`
    /// when the cache is full. Slots fill in order, so the first empty slot ends the search (two
    /// threads racing on a new key may both insert it: harmless).
    pub(crate) fn get_or_insert(
        &self,
        key: u32,
        build: &dyn Fn() -> Box<[KeyValue]>,
    ) -> Option<&CachedSet> {
        for slot in &self.slots {
            let set = slot.get_or_init(|| CachedSet {
                key,
                attrs: build(),
                #[cfg(feature = "bound-instruments")]
                bound: OnceLock::new(),
            });
            if set.key == key {
                return Some(set);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(method: usize) -> Labels {
        Labels {
            method,
            https: false,
            route: Some(StringValue::from("/users/{id}")),
        }
    }

    #[test]
    fn keys_are_distinct_per_label_combination() {
        let l = labels(0);
        let keys = [
            l.key(Outcome::Status(200)),
            l.key(Outcome::Status(500)),
            l.key(Outcome::ServiceError("E")),
            l.key(Outcome::Panic),
            l.key(Outcome::Cancelled),
            labels(1).key(Outcome::Status(200)),
            Labels {
                https: true,
                ..labels(0)
            }
            .key(Outcome::Status(200)),
        ];
        let set: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(set.len(), keys.len());
    }

    #[test]
    fn attributes_follow_the_contract() {
        let l = labels(1);
        let kv = l.attributes(Outcome::Status(503));
        let get = |k: &str| {
            kv.iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(get(HTTP_REQUEST_METHOD).as_deref(), Some("POST"));
        assert_eq!(get(URL_SCHEME).as_deref(), Some("http"));
        assert_eq!(get(HTTP_ROUTE).as_deref(), Some("/users/{id}"));
        assert_eq!(get(HTTP_RESPONSE_STATUS_CODE).as_deref(), Some("503"));
        assert_eq!(get(ERROR_TYPE).as_deref(), Some("503"));
        let ok = l.attributes(Outcome::Status(200));
        assert!(ok.iter().all(|kv| kv.key.as_str() != ERROR_TYPE));
        let panic = l.attributes(Outcome::Panic);
        assert!(panic
            .iter()
            .any(|kv| kv.key.as_str() == ERROR_TYPE && kv.value.as_str() == "panic"));
        assert!(panic
            .iter()
            .all(|kv| kv.key.as_str() != HTTP_RESPONSE_STATUS_CODE));
    }

    #[test]
    fn cache_is_bounded_and_returns_the_right_set() {
        let cache = AttrCache::default();
        let l = labels(0);
        let built = std::cell::Cell::new(0);
        for round in 0..2 {
            for status in 100..(100 + CACHE_SLOTS as u16 + 10) {
                let build = || {
                    built.set(built.get() + 1);
                    l.attributes(Outcome::Status(status))
                };
                let got = cache.get_or_insert(l.key(Outcome::Status(status)), &build);
                if usize::from(status - 100) < CACHE_SLOTS {
                    let got = got.expect("room left");
                    assert!(got
                        .attrs
                        .iter()
                        .any(|kv| kv.key.as_str() == HTTP_RESPONSE_STATUS_CODE
                            && kv.value.to_string() == status.to_string()));
                } else {
                    assert!(got.is_none(), "full cache falls back (round {round})");
                }
            }
        }
        assert_eq!(built.get(), CACHE_SLOTS, "each cached set is built once");
    }
}
