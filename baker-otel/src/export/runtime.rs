//! A private tokio runtime that hosts exporter I/O.

use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::runtime::{Handle, Runtime};

/// One worker thread named `baker-otel-export`; torn down without blocking.
#[derive(Debug)]
pub(crate) struct ExportRuntime {
    rt: Option<Runtime>,
}

impl ExportRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("baker-otel-export")
            .enable_all()
            .build()?;
        Ok(Self { rt: Some(rt) })
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
            rt.shutdown_background();
        }
    }
}

pin_project! {
    /// Polls `inner` with the export runtime entered, so I/O types created while polling
    /// (hyper/reqwest connections) register with a live reactor even when the poller is a
    /// plain thread such as the SDK's periodic metric reader.
    pub(crate) struct InRuntime<F> {
        handle: Handle,
        #[pin]
        inner: F,
    }
}

impl<F> InRuntime<F> {
    pub(crate) fn new(handle: Handle, inner: F) -> Self {
        Self { handle, inner }
    }
}

impl<F: Future> Future for InRuntime<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _guard = this.handle.enter();
        this.inner.poll(cx)
    }
}
