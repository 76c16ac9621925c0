//! Bounded batch queue shared by the span and log processors.
//!
//! `push` is a non-blocking `try_send`; a full queue drops the item and counts it. A worker task on
//! the export runtime gathers items into batches of at most `max_export_batch_size` items and
//! `max_export_batch_bytes` estimated encoded bytes (an item that does not fit starts the next
//! batch: big batches are split, never dropped), exports when a batch is full or
//! `scheduled_delay` passes, and bounds every export by `export_timeout` (the exporter's own
//! retries, which honour `Retry-After` / `RetryInfo`, happen inside that bound while the queue
//! keeps its size bound). A failed or timed-out export counts its items as dropped and logs at
//! most one warning a minute.
//!
//! Every item given to `push` is exported or counted, also when producers race shutdown: after
//! the worker's last export it *seals* the queue and counts what is left, and a producer whose
//! push lands after that counts it itself (a SeqCst fence on each side orders the seal against the
//! push: one of the two sees the item).

use super::{DropReason, Drops};
use crate::config::BatchConfig;
use crate::util::RateLimiter;
use crossbeam_queue::ArrayQueue;
use futures_util::future::BoxFuture;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// Something that ships a batch of `T` (an OTLP exporter, a console printer, an in-memory sink).
pub(crate) trait BatchExporter<T>: Send + Sync + 'static {
    fn export(&self, batch: Vec<T>) -> BoxFuture<'_, OTelSdkResult>;
    fn shutdown(&self, timeout: Duration) -> OTelSdkResult;
}

enum Control {
    Flush(std::sync::mpsc::SyncSender<()>),
    Shutdown(std::sync::mpsc::SyncSender<()>),
}

/// State shared by producers and the worker.
struct Shared<T> {
    queue: ArrayQueue<T>,
    /// Set when a producer has already woken the worker for a full batch.
    signalled: AtomicBool,
    wake: Notify,
    batch: usize,
    /// Items popped for the export in progress; counted as dropped if shutdown gives up on them.
    in_flight: AtomicU64,
    /// Set when nothing queued will be exported any more (the worker's last export is done, or
    /// shutdown gave up on it): whoever then finds items in the queue counts them as dropped.
    sealed: AtomicBool,
}

impl<T> Shared<T> {
    /// Seals the queue, then counts and discards what it holds. Paired with the check in
    /// [`BatchQueue::push`]: each side writes (the seal; the item), fences, then reads (the queue;
    /// the seal), so an item pushed concurrently is seen by this sweep or by its producer.
    fn seal(&self, dropped: &Drops) -> u64 {
        self.sealed.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.sweep(dropped)
    }

    /// Counts and discards what is queued.
    fn sweep(&self, dropped: &Drops) -> u64 {
        let mut n = 0u64;
        while self.queue.pop().is_some() {
            n += 1;
        }
        if n > 0 {
            dropped.add(DropReason::Shutdown, n);
        }
        n
    }

    /// Counts everything still queued or in flight as dropped, and seals the queue (shutdown
    /// deadline passed, or the collector failed during shutdown).
    fn abandon(&self, dropped: &Drops) -> u64 {
        let n = self.in_flight.swap(0, Ordering::AcqRel);
        dropped.add(DropReason::Shutdown, n);
        n + self.seal(dropped)
    }
}

/// Producer side, owned by the span/log processor.
///
/// Items go into a lock-free bounded ring; the worker is woken only when a full batch is waiting
/// (or on its schedule), so the hot path never pays a cross-thread wake-up per item.
pub(crate) struct BatchQueue<T> {
    shared: Arc<Shared<T>>,
    ctrl: mpsc::UnboundedSender<Control>,
    dropped: Arc<Drops>,
    warn: Arc<RateLimiter>,
    signal: &'static str,
    closed: AtomicBool,
}

impl<T> std::fmt::Debug for BatchQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchQueue")
            .field("signal", &self.signal)
            .field("len", &self.shared.queue.len())
            .finish()
    }
}

impl<T: Send + 'static> BatchQueue<T> {
    pub(crate) fn start<E: BatchExporter<T>>(
        handle: &tokio::runtime::Handle,
        exporter: E,
        cfg: BatchConfig,
        dropped: Arc<Drops>,
        signal: &'static str,
        size: fn(&T) -> usize,
    ) -> Self {
        let batch = cfg
            .max_export_batch_size
            .clamp(1, cfg.max_queue_size.max(1));
        let shared = Arc::new(Shared {
            queue: ArrayQueue::new(cfg.max_queue_size.max(1)),
            signalled: AtomicBool::new(false),
            wake: Notify::new(),
            batch,
            in_flight: AtomicU64::new(0),
            sealed: AtomicBool::new(false),
        });
        let (ctrl, ctrl_rx) = mpsc::unbounded_channel();
        let warn = Arc::new(RateLimiter::new(Duration::from_secs(60)));
        let worker = Worker {
            shared: shared.clone(),
            ctrl_rx,
            exporter,
            cfg,
            dropped: dropped.clone(),
            warn: warn.clone(),
            signal,
            size,
            carry: None,
        };
        handle.spawn(worker.run());
        Self {
            shared,
            ctrl,
            dropped,
            warn,
            signal,
            closed: AtomicBool::new(false),
        }
    }

    /// Whether [`shutdown`](Self::shutdown) has run.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// [`push`](Self::push) after `prepare`, which a queue already full or closed skips: the
    /// item is dropped (and counted) without it. While the collector is down, dropping is the
    /// hot path, and preparing an item only to drop it would tax it.
    #[inline]
    pub(crate) fn push_prepared(&self, mut item: T, prepare: impl FnOnce(&mut T)) -> Result<(), T> {
        if self.shared.queue.is_full() || self.closed.load(Ordering::Acquire) {
            self.on_drop();
            return Err(item);
        }
        prepare(&mut item);
        self.enqueue(item)
    }

    /// Never blocks: a full or closed queue counts `item` as dropped and hands it back (the
    /// span sink recycles its allocation). `Ok`: the item is queued, and will be exported or
    /// counted as dropped — also when this push races shutdown (see the module docs).
    #[inline]
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        if self.closed.load(Ordering::Acquire) {
            self.on_drop();
            return Err(item);
        }
        self.enqueue(item)
    }

    /// `push` once the queue has been seen open: a shutdown that begins after that is caught
    /// by the seal check below.
    #[inline]
    fn enqueue(&self, item: T) -> Result<(), T> {
        let s = &*self.shared;
        if let Err(item) = s.queue.push(item) {
            self.on_drop();
            return Err(item);
        }
        // Pairs with `Shared::seal`: if the worker's last sweep may have missed this item, the
        // seal is visible here.
        fence(Ordering::SeqCst);
        if s.sealed.load(Ordering::Relaxed) {
            s.sweep(&self.dropped);
            return Ok(());
        }
        if s.queue.len() >= s.batch && !s.signalled.swap(true, Ordering::AcqRel) {
            s.wake.notify_one();
        }
        Ok(())
    }

    #[cold]
    fn on_drop(&self) {
        let total = self.dropped.add(DropReason::QueueFull, 1);
        // Reading the clock for the rate limiter on every drop would tax the hot path while the
        // collector is down; look at it on the first drop and every 4096th after that.
        if (total == 1 || total & 0xFFF == 0)
            && !self.closed.load(Ordering::Relaxed)
            && self.warn.allow()
        {
            tracing::warn!(
                target: crate::INTERNAL_TARGET,
                signal = self.signal,
                dropped_total = total,
                "telemetry export queue is full; dropping {} (is the collector reachable?)",
                self.signal
            );
        }
    }

    fn control(
        &self,
        make: fn(std::sync::mpsc::SyncSender<()>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        self.ctrl
            .send(make(done_tx))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        done_rx
            .recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))
    }

    pub(crate) fn flush(&self, timeout: Duration) -> OTelSdkResult {
        self.control(Control::Flush, timeout)
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let result = self.control(Control::Shutdown, timeout);
        if result.is_err() {
            // The worker is stuck on a slow collector: what it still holds is lost — count it.
            self.shared.abandon(&self.dropped);
        }
        result
    }
}

struct Worker<T, E> {
    shared: Arc<Shared<T>>,
    ctrl_rx: mpsc::UnboundedReceiver<Control>,
    exporter: E,
    cfg: BatchConfig,
    dropped: Arc<Drops>,
    warn: Arc<RateLimiter>,
    signal: &'static str,
    /// Estimated encoded size of an item (for `max_export_batch_bytes`).
    size: fn(&T) -> usize,
    /// The item that did not fit in the previous batch's byte budget: it starts the next one.
    carry: Option<T>,
}

impl<T: Send + 'static, E: BatchExporter<T>> Worker<T, E> {
    async fn run(mut self) {
        let mut deadline = tokio::time::Instant::now() + self.cfg.scheduled_delay;
        loop {
            tokio::select! {
                biased;
                ctrl = self.ctrl_rx.recv() => match ctrl {
                    Some(Control::Flush(done)) => {
                        self.drain_all().await;
                        let _ = done.try_send(());
                    }
                    Some(Control::Shutdown(done)) => {
                        // Export what is queued, but after the first failure stop trying: the
                        // collector is down and the shutdown deadline must hold.
                        while self.pending() {
                            if !self.export_one_batch().await {
                                if self.carry.take().is_some() {
                                    self.dropped.add(DropReason::Shutdown, 1);
                                }
                                self.shared.abandon(&self.dropped);
                                break;
                            }
                        }
                        // The last export is done: what producers still manage to push
                        // (having seen the queue open just before it closed) is counted.
                        self.shared.seal(&self.dropped);
                        let _ = self.exporter.shutdown(self.cfg.export_timeout);
                        let _ = done.try_send(());
                        return;
                    }
                    None => return,
                },
                _ = self.shared.wake.notified() => {
                    self.shared.signalled.store(false, Ordering::Release);
                    while self.shared.queue.len() >= self.shared.batch {
                        self.export_one_batch().await;
                    }
                    deadline = tokio::time::Instant::now() + self.cfg.scheduled_delay;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.shared.signalled.store(false, Ordering::Release);
                    self.drain_all().await;
                    deadline = tokio::time::Instant::now() + self.cfg.scheduled_delay;
                }
            }
        }
    }

    fn pending(&self) -> bool {
        self.carry.is_some() || !self.shared.queue.is_empty()
    }

    async fn drain_all(&mut self) {
        while self.pending() {
            self.export_one_batch().await;
        }
    }

    /// Exports up to one batch (by count and by estimated bytes); returns false when the export
    /// failed (items counted as dropped).
    async fn export_one_batch(&mut self) -> bool {
        let max = self.shared.batch;
        let max_bytes = self.cfg.max_export_batch_bytes.max(1);
        let mut batch = Vec::with_capacity(max.min(self.shared.queue.len() + 1).max(1));
        let mut bytes = 0usize;
        while batch.len() < max {
            let Some(item) = self.carry.take().or_else(|| self.shared.queue.pop()) else {
                break;
            };
            let size = (self.size)(&item);
            if !batch.is_empty() && bytes.saturating_add(size) > max_bytes {
                // Does not fit: it opens the next batch.
                self.carry = Some(item);
                break;
            }
            bytes = bytes.saturating_add(size);
            batch.push(item);
        }
        if batch.is_empty() {
            return true;
        }
        let n = batch.len() as u64;
        let carried = u64::from(self.carry.is_some());
        // The carried item is in our hands too: shutdown must count it if it gives up on us.
        self.shared.in_flight.store(n + carried, Ordering::Release);
        let started = Instant::now();
        let result =
            tokio::time::timeout(self.cfg.export_timeout, self.exporter.export(batch)).await;
        // Whatever shutdown has not already abandoned is ours to account for.
        let left = self.shared.in_flight.swap(0, Ordering::AcqRel);
        if left == 0 && carried == 1 {
            // Shutdown abandoned (and counted) the carried item with the batch.
            self.carry = None;
        }
        let n = left.saturating_sub(carried);
        let err = match result {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("timed out after {:?}", started.elapsed()),
        };
        let total = self.dropped.add(DropReason::ExportFailed, n);
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
        false
    }
}

#[cfg(test)]
mod tests;
