//! # baker-otel-nats
//!
//! One trace across NATS: W3C trace context and baggage (conversation / job ids) in NATS
//! headers, semantic-convention messaging spans and metrics, JetStream settlements and a
//! queue-depth gauge. Built from the [`baker_otel::Telemetry`] hub: its meter provider and its
//! propagation (`OTEL_PROPAGATORS`) are used for every instrument and every inject/extract.
//!
//! ```no_run
//! use futures_util::StreamExt;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = baker_otel::init()?;
//! let nats = baker_otel_nats::NatsTelemetry::new(&telemetry);
//! let client = nats.client(async_nats::connect("nats://127.0.0.1:4222").await?);
//!
//! // Brain: PRODUCER span `send jobs.summarise`, context + baggage in the headers.
//! client.publish("jobs.summarise", "{}".into()).await?;
//!
//! // Worker: CONSUMER span `process jobs.summarise`, child of the producer span.
//! let mut sub = client.queue_subscribe("jobs.>", "workers".into()).await?;
//! while let Some(msg) = sub.next().await {
//!     msg.in_scope(|| tracing::info!("working")); // JSON line carries trace + conversation/job ids
//! }
//! # Ok(()) }
//! ```
//!
//! Metrics (names and labels as in `docs/metrics.md`): `messaging.client.operation.duration`,
//! `messaging.process.duration`, `messaging.client.sent.messages`,
//! `messaging.client.consumed.messages`, `baker.messaging.settlements`,
//! `baker.messaging.redeliveries`, `baker.queue.depth`. Reply inboxes (`_INBOX.*`) appear as
//! `_INBOX` in span names and labels.
//!
//! Publishers are trusted by default: a consumer's `process` span is the child of the
//! publisher's span and carries its baggage (the Baker ids). For subjects that outside parties
//! can publish to, [`NatsTelemetry::untrusted_subjects`] makes the consumer start a new trace
//! linked to the publisher's context and drop its baggage (except
//! [`NatsTelemetry::untrusted_baggage_allow_list`]), as the HTTP layer's `public_endpoint` does.
//!
//! Every publish and request is recorded exactly once: on completion (`error_type` = the
//! error kind on failure), or — if the caller drops the future first, e.g. with
//! `tokio::time::timeout` — with `error.type = "cancelled"`. JetStream publishes are recorded
//! when the server's ack resolves (see [`TracedPublishAck`]).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod carrier;
mod consume;
mod instruments;
mod jetstream;
mod outcome;
mod policy;
pub mod propagation;
mod publish;
mod queue_depth;
mod settle;
mod spans;
pub mod subject;
mod telemetry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use carrier::{HeaderExtractor, HeaderInjector, MAX_VALUE_LEN};
pub use consume::{Delivery, ReceivedMessage, Traced, TracedMessages, TracedSubscriber};
pub use jetstream::{TracedJetStream, TracedPublishAck};
pub use publish::TracedClient;
pub use queue_depth::{QueueDepth, QueueDepthBuilder, QueueDepthError, QUEUE_DEPTH, QUEUE_STATE};
pub use spans::{MSG_ID_HEADER, TARGET};
pub use subject::{
    destination_name, SubjectPatternError, SubjectTemplates, DEFAULT_MAX_DESTINATIONS, ID_TOKEN,
    INBOX_TEMPLATE,
};
pub use telemetry::{NatsTelemetry, MAX_ERROR_TYPES, SCOPE};

/// The crate's README (its crates.io page), compiled as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
