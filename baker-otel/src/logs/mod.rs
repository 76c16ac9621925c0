//! Log pipeline: JSON lines on stdout and OTLP log records.

pub(crate) mod json;
pub(crate) mod otlp;
