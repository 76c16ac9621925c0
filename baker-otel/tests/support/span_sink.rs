//! A span exporter that keeps every exported span, also across shutdown (the SDK's in-memory
//! exporter clears what it holds on shutdown).

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Sink(pub Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Sink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}
