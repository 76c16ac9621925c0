//! OTLP export requests encoded straight from the SDK's `SpanData` and `SdkLogRecord`.
//!
//! `opentelemetry-proto`'s transform first builds the generated messages (a `String` per
//! attribute key, a `Vec` per id, an `AnyValue` per value), then prost encodes them and the
//! export thread frees both. Here each span or log record is written once, by reference, with
//! prost's wire primitives, into one buffer sized exactly in advance. The bytes are the ones
//! prost writes for the generated messages (fields in tag order, defaults omitted the same way):
//! the tests compare them with `opentelemetry-proto`'s transform + `encode_to_vec`, byte for
//! byte where the transform's output order is deterministic. The resource and each scope are
//! still converted and encoded by `opentelemetry-proto`.

mod logs;
mod spans;
mod wire;

pub(crate) use logs::LogEncoder;
pub(crate) use spans::TraceEncoder;
