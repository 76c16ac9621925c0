//! Building blocks of the `demo` binary, also used by the end-to-end test: an embedded OTLP
//! receiver, the definition of a complete trace, a trace-tree renderer, a Prometheus text reader,
//! and the process orchestration.

pub mod app;
pub mod collector;
pub mod expect;
pub mod nats;
pub mod procs;
pub mod promtext;
pub mod tree;
