#![allow(dead_code)]
//! Shared helpers for the tests against the real NATS server (`NATS_URL` or 127.0.0.1:4222).

use baker_otel::testing::Capture;
use baker_otel_nats::NatsTelemetry;
use std::future::Future;
use std::time::Duration;

pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

pub async fn connect() -> async_nats::Client {
    async_nats::connect(nats_url())
        .await
        .expect("NATS server reachable at NATS_URL or 127.0.0.1:4222")
}

/// A name unique to this test run (subjects, streams, consumers).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

pub fn telemetry(cap: &Capture) -> NatsTelemetry {
    NatsTelemetry::builder()
        .meter_provider(cap.meter_provider())
        .build()
}

/// Awaits `f` with a generous bound so a broken test fails instead of hanging.
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("operation finished within 20 s")
}

/// Retries `check` until it returns `Some` (no timing assertion: the bound only stops hangs).
pub async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> T {
    within(async {
        loop {
            if let Some(v) = check() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

pub fn attr(span: &baker_otel::testing::CapturedSpan, key: &str) -> Option<String> {
    Capture::attr(span, key).map(|v| v.to_string())
}
