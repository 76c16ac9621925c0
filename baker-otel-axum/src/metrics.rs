//! `http.server.request.duration` and `http.server.active_requests` (see docs/metrics.md).

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

/// Values of `http.request.method` the active-request table tracks (index = method slot).
const METHODS: [&str; 10] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "_OTHER",
];
const SCHEMES: [&str; 2] = ["http", "https"];

/// `http.server.active_requests` kept in atomics (one per method × scheme) and reported by an
/// observable up-down counter: a request costs two relaxed atomic adds, not two SDK lookups.
#[derive(Debug, Default)]
struct ActiveTable {
    counts: [[AtomicI64; 2]; 10],
    seen: [[AtomicBool; 2]; 10],
}

impl ActiveTable {
    #[inline]
    fn slot(method: &str, scheme: &str) -> (usize, usize) {
        let m = METHODS
            .iter()
            .position(|x| *x == method)
            .unwrap_or(METHODS.len() - 1);
        (m, usize::from(scheme == "https"))
    }
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
    pub(crate) fn active(&self, method: &'static str, scheme: &'static str, delta: i64) {
        let (m, s) = ActiveTable::slot(method, scheme);
        if delta > 0 && !self.active.seen[m][s].load(Ordering::Relaxed) {
            self.active.seen[m][s].store(true, Ordering::Relaxed);
        }
        self.active.counts[m][s].fetch_add(delta, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn duration(
        &self,
        secs: f64,
        labels: &Labels,
        status: Option<u16>,
        error: Option<StringValue>,
    ) {
        let mut attrs: [KeyValue; 5] = [
            KeyValue::new(HTTP_REQUEST_METHOD, labels.method),
            KeyValue::new(URL_SCHEME, labels.scheme),
            KeyValue::new(HTTP_ROUTE, ""),
            KeyValue::new(HTTP_RESPONSE_STATUS_CODE, 0i64),
            KeyValue::new(ERROR_TYPE, ""),
        ];
        let mut n = 2;
        if let Some(r) = &labels.route {
            attrs[n] = KeyValue::new(HTTP_ROUTE, r.clone());
            n += 1;
        }
        if let Some(s) = status {
            attrs[n] = KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(s));
            n += 1;
        }
        if let Some(e) = error {
            attrs[n] = KeyValue::new(ERROR_TYPE, e);
            n += 1;
        }
        self.duration.record(secs, &attrs[..n]);
    }
}

/// Per-request label values (all reference-counted or static: no allocation).
#[derive(Debug)]
pub(crate) struct Labels {
    pub(crate) method: &'static str,
    pub(crate) scheme: &'static str,
    pub(crate) route: Option<StringValue>,
}

/// Instruments bound to an explicit meter, or created lazily from the global meter provider
/// on first use (so a layer built before `baker_otel::init()` still reports).
#[derive(Debug)]
pub(crate) enum MetricsSource {
    Explicit(ServerMetrics),
    Global(OnceLock<ServerMetrics>),
    Off,
}

impl MetricsSource {
    #[inline]
    pub(crate) fn get(&self) -> Option<&ServerMetrics> {
        match self {
            Self::Explicit(m) => Some(m),
            Self::Global(cell) => {
                Some(cell.get_or_init(|| ServerMetrics::new(&opentelemetry::global::meter(SCOPE))))
            }
            Self::Off => None,
        }
    }
}
