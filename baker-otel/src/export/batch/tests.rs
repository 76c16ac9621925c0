//! The batch queue: ordering, byte-split batches, drop accounting and shutdown.

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
    BatchConfig {
        max_queue_size: queue,
        scheduled_delay: Duration::from_secs(3600),
        max_export_batch_size: 4,
        export_timeout: Duration::from_secs(1),
        max_export_batch_bytes: 1 << 20,
    }
}

fn one(_: &u32) -> usize {
    1
}

#[test]
fn flush_exports_everything_queued() {
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let q = BatchQueue::start(
        &rt.handle(),
        Sink(out.clone(), false),
        cfg(100),
        Arc::default(),
        "traces",
        one,
    );
    for i in 0..10 {
        let _ = q.push(i);
    }
    q.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(*out.lock().unwrap(), (0..10).collect::<Vec<_>>());
    q.shutdown(Duration::from_secs(5)).unwrap();
    assert!(
        q.shutdown(Duration::from_secs(5)).is_err(),
        "second shutdown is refused"
    );
}

/// Everything exported went through `prepare`; what a full queue refuses is handed back
/// and counted, and (refused before preparing) costs no preparation.
#[test]
fn push_prepared_prepares_what_it_queues() {
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let out = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(Drops::default());
    let q = BatchQueue::start(
        &rt.handle(),
        Sink(out.clone(), false),
        cfg(8),
        dropped.clone(),
        "traces",
        one,
    );
    let prepared = std::sync::atomic::AtomicU32::new(0);
    let mut refused = 0u64;
    for i in 0..1000u32 {
        let r = q.push_prepared(i, |v| {
            prepared.fetch_add(1, Ordering::Relaxed);
            *v += 1_000_000;
        });
        if let Err(back) = r {
            assert!(back == i || back == i + 1_000_000, "handed back: {back}");
            refused += 1;
        }
    }
    q.flush(Duration::from_secs(5)).unwrap();
    let out = out.lock().unwrap();
    assert!(refused > 0, "a queue of 8 refuses some of 1000 items");
    assert!(
        out.iter().all(|v| *v >= 1_000_000),
        "every exported item was prepared"
    );
    assert_eq!(out.len() as u64 + refused, 1000);
    assert_eq!(dropped.get(DropReason::QueueFull), refused);
    assert!(
        u64::from(prepared.load(Ordering::Relaxed)) < 1000,
        "items refused by a full queue are not prepared"
    );
    drop(out);
    q.shutdown(Duration::from_secs(5)).unwrap();
    // Closed: refused and counted, not prepared.
    let before = prepared.load(Ordering::Relaxed);
    let r = q.push_prepared(7, |v| {
        prepared.fetch_add(1, Ordering::Relaxed);
        *v += 1;
    });
    assert_eq!(r, Err(7));
    assert_eq!(prepared.load(Ordering::Relaxed), before);
}

#[test]
fn failures_and_overflow_are_counted() {
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let dropped = Arc::new(Drops::default());
    let q = BatchQueue::start(
        &rt.handle(),
        Sink(Arc::default(), true),
        cfg(8),
        dropped.clone(),
        "logs",
        one,
    );
    let mut refused = 0u64;
    for i in 0..1000 {
        if let Err(back) = q.push(i) {
            assert_eq!(back, i, "a refused item is handed back");
            refused += 1;
        }
    }
    q.flush(Duration::from_secs(5)).unwrap();
    assert!(refused > 0, "a queue of 8 refuses some of 1000 items");
    assert_eq!(dropped.get(DropReason::QueueFull), refused);
    assert_eq!(
        dropped.total(),
        1000,
        "every item is either exported-and-failed or dropped on a full queue"
    );
}

/// Records the batches it is given.
struct Batches(Arc<Mutex<Vec<Vec<u32>>>>);
impl BatchExporter<u32> for Batches {
    fn export(&self, batch: Vec<u32>) -> BoxFuture<'_, OTelSdkResult> {
        self.0.lock().unwrap().push(batch);
        Box::pin(std::future::ready(Ok(())))
    }
    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[test]
fn batches_are_split_by_bytes_never_dropped() {
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let batches = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(Drops::default());
    let mut c = cfg(1000);
    c.max_export_batch_size = 100;
    c.max_export_batch_bytes = 1000;
    // The item's value is its size in bytes.
    let q = BatchQueue::start(
        &rt.handle(),
        Batches(batches.clone()),
        c,
        dropped.clone(),
        "logs",
        |n: &u32| *n as usize,
    );
    let items: Vec<u32> = (0..300).map(|i| [10, 400, 999, 3000, 1][i % 5]).collect();
    for &i in &items {
        let _ = q.push(i);
    }
    q.flush(Duration::from_secs(5)).unwrap();
    let batches = batches.lock().unwrap();
    for b in batches.iter() {
        let bytes: u32 = b.iter().sum();
        assert!(
            bytes <= 1000 || b.len() == 1,
            "a batch over the cap holds one oversized item only: {b:?}"
        );
        assert!(b.len() <= 100);
    }
    let delivered: Vec<u32> = batches.iter().flatten().copied().collect();
    assert_eq!(delivered, items, "everything delivered, in order");
    assert_eq!(dropped.total(), 0);
    assert!(
        batches.len() > 3,
        "the cap split the queue into several requests"
    );
}

struct Stall;
impl BatchExporter<u32> for Stall {
    fn export(&self, _batch: Vec<u32>) -> BoxFuture<'_, OTelSdkResult> {
        Box::pin(std::future::pending())
    }
    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[test]
fn shutdown_deadline_counts_what_it_abandons() {
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let dropped = Arc::new(Drops::default());
    let mut c = cfg(100);
    c.export_timeout = Duration::from_secs(3600);
    let q = BatchQueue::start(&rt.handle(), Stall, c, dropped.clone(), "traces", one);
    for i in 0..50 {
        let _ = q.push(i);
    }
    assert!(
        q.shutdown(Duration::from_millis(200)).is_err(),
        "stalled export times out"
    );
    assert_eq!(
        dropped.total(),
        50,
        "queued and in-flight items are all counted"
    );
}

#[test]
fn shutdown_stops_exporting_after_the_first_failure() {
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let dropped = Arc::new(Drops::default());
    let q = BatchQueue::start(
        &rt.handle(),
        Sink(Arc::default(), true),
        cfg(100),
        dropped.clone(),
        "logs",
        one,
    );
    for i in 0..100 {
        let _ = q.push(i);
    }
    q.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!(dropped.total(), 100);
}

#[test]
fn shutdown_inside_a_runtime_is_bounded() {
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let q = BatchQueue::start(
        &rt.handle(),
        Sink(Arc::default(), false),
        cfg(8),
        Arc::default(),
        "traces",
        one,
    );
    let app = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    app.block_on(async { q.shutdown(Duration::from_secs(2)).unwrap() });
    drop(rt);
}

/// Counts the items it exports.
struct Count(Arc<AtomicU64>);
impl BatchExporter<u32> for Count {
    fn export(&self, batch: Vec<u32>) -> BoxFuture<'_, OTelSdkResult> {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Box::pin(std::future::ready(Ok(())))
    }
    fn shutdown(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Producers pushing while shutdown runs: every item handed to `push` is exported or counted
/// as dropped, none is left behind in the queue after the worker's last export. Repeated: the
/// race is between a producer's check of `closed` and its push, and the worker's final drain.
#[test]
fn every_push_racing_shutdown_is_exported_or_counted() {
    const PRODUCERS: usize = 6;
    const ROUNDS: usize = 100;
    let rt = crate::export::runtime::ExportRuntime::start().unwrap();
    let mut c = cfg(4096);
    c.max_export_batch_size = 64;
    for round in 0..ROUNDS {
        let exported = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(Drops::default());
        let q = BatchQueue::start(
            &rt.handle(),
            Count(exported.clone()),
            c,
            dropped.clone(),
            "traces",
            one,
        );
        let pushed = AtomicU64::new(0);
        let started = std::sync::Barrier::new(PRODUCERS + 1);
        std::thread::scope(|s| {
            for _ in 0..PRODUCERS {
                s.spawn(|| {
                    started.wait();
                    // Until well after the queue closed: the last pushes race the final drain.
                    let mut after_close = 0;
                    while after_close < 200 {
                        let _ = q.push(7);
                        pushed.fetch_add(1, Ordering::Relaxed);
                        if q.is_closed() {
                            after_close += 1;
                        }
                    }
                });
            }
            started.wait();
            std::thread::yield_now();
            q.shutdown(Duration::from_secs(10)).unwrap();
        });
        let exported = exported.load(Ordering::Relaxed);
        assert_eq!(
            exported + dropped.total(),
            pushed.load(Ordering::Relaxed),
            "round {round}: exported {exported}, dropped {:?}",
            DropReason::ALL.map(|r| dropped.get(r))
        );
    }
}
