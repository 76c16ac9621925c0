//! A private tokio runtime that hosts exporter I/O.

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::runtime::{Handle, Runtime};

/// One worker thread named `baker-otel-export`; torn down without blocking.
#[derive(Debug)]
pub(crate) struct ExportRuntime {
    rt: Option<Runtime>,
    closed: Arc<AtomicBool>,
}

/// The runtime's handle for futures polled on other threads, with a flag that says the
/// runtime has been torn down (a tokio timer or socket created after that panics).
#[derive(Debug, Clone)]
pub(crate) struct Bridge {
    handle: Handle,
    closed: Arc<AtomicBool>,
}

impl ExportRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("baker-otel-export")
            .enable_all()
            .build()?;
        Ok(Self {
            rt: Some(rt),
            closed: Arc::default(),
        })
    }

    pub(crate) fn bridge(&self) -> Bridge {
        Bridge {
            handle: self.handle(),
            closed: self.closed.clone(),
        }
    }

    pub(crate) fn handle(&self) -> Handle {
        self.rt
            .as_ref()
            .expect("runtime alive until drop")
            .handle()
            .clone()
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        // Safe to call from inside another runtime; never blocks.
        if let Some(rt) = self.rt.take() {
            self.closed.store(true, Ordering::Release);
            rt.shutdown_background();
        }
    }
}

impl Bridge {
    /// Enters the runtime (for building exporters and their shutdown).
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.handle.enter()
    }

    /// Whether the runtime has been torn down.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

pin_project! {
    /// Polls `inner` with the export runtime entered, so I/O types created while polling
    /// (hyper/reqwest connections) register with a live reactor even when the poller is a
    /// plain thread such as the SDK's periodic metric reader. Once the runtime is torn down
    /// (shutdown past its deadline) it fails instead of polling: tokio panics on a timer
    /// created in a runtime that is shutting down.
    pub(crate) struct InRuntime<F> {
        bridge: Bridge,
        #[pin]
        inner: F,
    }
}

impl<F> InRuntime<F> {
    pub(crate) fn new(bridge: Bridge, inner: F) -> Self {
        Self { bridge, inner }
    }
}

impl<F: Future<Output = OTelSdkResult>> Future for InRuntime<F> {
    type Output = OTelSdkResult;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.bridge.is_closed() {
            return Poll::Ready(Err(OTelSdkError::AlreadyShutdown));
        }
        let _guard = this.bridge.handle.enter();
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives `f` on a runtime of its own without timers, like the SDK's reader thread.
    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_future_polled_after_teardown_fails_instead_of_panicking() {
        let rt = ExportRuntime::start().unwrap();
        let bridge = rt.bridge();
        let live = block_on(InRuntime::new(bridge.clone(), async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            Ok(())
        }));
        assert!(live.is_ok());
        drop(rt);
        assert!(bridge.is_closed());
        let after = block_on(InRuntime::new(bridge, async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            Ok(())
        }));
        assert!(
            matches!(after, Err(OTelSdkError::AlreadyShutdown)),
            "{after:?}"
        );
    }
}
