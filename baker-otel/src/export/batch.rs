//! Bounded batch queue shared by the span and log processors.
//!
//! `push` is a non-blocking `try_send`; a full queue drops the item and counts it. A worker task on
//! the export runtime gathers items into batches of at most `max_export_batch_size`, exports when a
//! batch is full or `scheduled_delay` passes, and bounds every export by `export_timeout`. A failed
//! or timed-out export counts its items as dropped and logs at most one warning a minute.

use crate::config::BatchConfig;
use crate::util::RateLimiter;
use futures_util::future::BoxFuture;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Something that ships a batch of `T` (an OTLP exporter, a console printer, an in-memory sink).
pub(crate) trait BatchExporter<T>: Send + Sync + 'static {
    fn export(&self, batch: Vec<T>) -> BoxFuture<'_, OTelSdkResult>;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

enum Control {
    Flush(std::sync::mpsc::SyncSender<()>),
    Shutdown(std::sync::mpsc::SyncSender<()>),
}

/// Producer side, owned by the span/log processor.
#[derive(Debug)]
pub(crate) struct BatchQueue<T> {
    tx: mpsc::Sender<T>,
    ctrl: mpsc::UnboundedSender<Control>,
    dropped: Arc<AtomicU64>,
    warn: Arc<RateLimiter>,
    signal: &'static str,
    closed: AtomicBool,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Control::Flush(_) => "Flush",
            Control::Shutdown(_) => "Shutdown",
        })
    }
}

impl<T: Send + 'static> BatchQueue<T> {
    pub(crate) fn start<E: BatchExporter<T>>(
        handle: &tokio::runtime::Handle,
        exporter: E,
        cfg: BatchConfig,
        dropped: Arc<AtomicU64>,
        signal: &'static str,
    ) -> Self {
        let (tx, rx) = mpsc::channel(cfg.max_queue_size.max(1));
        let (ctrl, ctrl_rx) = mpsc::unbounded_channel();
        let warn = Arc::new(RateLimiter::new(Duration::from_secs(60)));
        let worker = Worker { rx, ctrl_rx, exporter, cfg, dropped: dropped.clone(), warn: warn.clone(), signal };
        handle.spawn(worker.run());
        Self { tx, ctrl, dropped, warn, signal, closed: AtomicBool::new(false) }
    }

    /// Never blocks: a full or closed queue drops `item` and counts it.
    #[inline]
    pub(crate) fn push(&self, item: T) {
        if self.tx.try_send(item).is_err() {
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if !self.closed.load(Ordering::Relaxed) && self.warn.allow() {
                tracing::warn!(
                    target: crate::INTERNAL_TARGET,
                    signal = self.signal,
                    dropped_total = total,
                    "telemetry export queue is full; dropping {} (is the collector reachable?)",
                    self.signal
                );
            }
        }
    }

    fn control(&self, make: fn(std::sync::mpsc::SyncSender<()>) -> Control, timeout: Duration) -> OTelSdkResult {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.ctrl.send(make(done_tx)).map_err(|_| OTelSdkError::AlreadyShutdown)?;
        done_rx.recv_timeout(timeout).map_err(|_| OTelSdkError::Timeout(timeout))
    }

    pub(crate) fn flush(&self, timeout: Duration) -> OTelSdkResult {
        self.control(Control::Flush, timeout)
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.control(Control::Shutdown, timeout)
    }
}

struct Worker<T, E> {
    rx: mpsc::Receiver<T>,
    ctrl_rx: mpsc::UnboundedReceiver<Control>,
    exporter: E,
    cfg: BatchConfig,
    dropped: Arc<AtomicU64>,
    warn: Arc<RateLimiter>,
    signal: &'static str,
}

impl<T: Send + 'static, E: BatchExporter<T>> Worker<T, E> {
    async fn run(mut self) {
        let max = self.cfg.max_export_batch_size.max(1);
        let mut buf: Vec<T> = Vec::with_capacity(max);
        let mut deadline = tokio::time::Instant::now() + self.cfg.scheduled_delay;
        loop {
            let room = max.saturating_sub(buf.len()).max(1);
            tokio::select! {
                biased;
                ctrl = self.ctrl_rx.recv() => match ctrl {
                    Some(Control::Flush(done)) => {
                        self.drain(&mut buf, max).await;
                        let _ = done.try_send(());
                    }
                    Some(Control::Shutdown(done)) => {
                        self.drain(&mut buf, max).await;
                        let _ = self.exporter.shutdown(self.cfg.export_timeout);
                        let _ = done.try_send(());
                        return;
                    }
                    None => return,
                },
                n = self.rx.recv_many(&mut buf, room) => {
                    if n == 0 {
                        self.export(&mut buf).await;
                        return;
                    }
                    if buf.len() >= max {
                        self.export(&mut buf).await;
                        deadline = tokio::time::Instant::now() + self.cfg.scheduled_delay;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.export(&mut buf).await;
                    deadline = tokio::time::Instant::now() + self.cfg.scheduled_delay;
                }
            }
        }
    }

    async fn drain(&mut self, buf: &mut Vec<T>, max: usize) {
        while let Ok(item) = self.rx.try_recv() {
            buf.push(item);
            if buf.len() >= max {
                self.export(buf).await;
            }
        }
        self.export(buf).await;
    }

    async fn export(&mut self, buf: &mut Vec<T>) {
        if buf.is_empty() {
            return;
        }
        let batch = std::mem::replace(buf, Vec::with_capacity(self.cfg.max_export_batch_size));
        let n = batch.len() as u64;
        let started = Instant::now();
        let result = tokio::time::timeout(self.cfg.export_timeout, self.exporter.export(batch)).await;
        let err = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("timed out after {:?}", started.elapsed()),
        };
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        if self.warn.allow() {
            tracing::warn!(
                target: crate::INTERNAL_TARGET,
                signal = self.signal,
                dropped_total = total,
                error = %err,
                "failed to export {}; dropped {n} items (further failures are counted in baker_otel.exporter.dropped, this warning repeats at most once a minute)",
                self.signal
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Sink(Arc<Mutex<Vec<u32>>>, bool);
    impl BatchExporter<u32> for Sink {
        fn export(&self, batch: Vec<u32>) -> BoxFuture<'_, OTelSdkResult> {
            let fail = self.1;
            let out = self.0.clone();
            Box::pin(async move {
                if fail {
                    return Err(OTelSdkError::InternalFailure("down".into()));
                }
                out.lock().unwrap().extend(batch);
                Ok(())
            })
        }
        fn shutdown(&self, _: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    fn cfg(queue: usize) -> BatchConfig {
        BatchConfig { max_queue_size: queue, scheduled_delay: Duration::from_secs(3600), max_export_batch_size: 4, export_timeout: Duration::from_secs(1) }
    }

    #[test]
    fn flush_exports_everything_queued() {
        let rt = crate::export::runtime::ExportRuntime::start().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let q = BatchQueue::start(&rt.handle(), Sink(out.clone(), false), cfg(100), Arc::default(), "traces");
        for i in 0..10 {
            q.push(i);
        }
        q.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(*out.lock().unwrap(), (0..10).collect::<Vec<_>>());
        q.shutdown(Duration::from_secs(5)).unwrap();
        assert!(q.shutdown(Duration::from_secs(5)).is_err(), "second shutdown is refused");
    }

    #[test]
    fn failures_and_overflow_are_counted() {
        let rt = crate::export::runtime::ExportRuntime::start().unwrap();
        let dropped = Arc::new(AtomicU64::new(0));
        let q = BatchQueue::start(&rt.handle(), Sink(Arc::default(), true), cfg(8), dropped.clone(), "logs");
        for i in 0..1000 {
            q.push(i);
        }
        q.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(dropped.load(Ordering::Relaxed), 1000, "every item is either exported-and-failed or dropped on a full queue");
    }

    #[test]
    fn shutdown_inside_a_runtime_is_bounded() {
        let rt = crate::export::runtime::ExportRuntime::start().unwrap();
        let q = BatchQueue::start(&rt.handle(), Sink(Arc::default(), false), cfg(8), Arc::default(), "traces");
        let app = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        app.block_on(async { q.shutdown(Duration::from_secs(2)).unwrap() });
        drop(rt);
    }
}
