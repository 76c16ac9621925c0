//! JSON lines go to stdout synchronously, as tracing-subscriber's `fmt` layer does: a reader that
//! stops draining the pipe stalls the threads that log. A service that must never wait for its
//! log reader passes tracing-appender's non-blocking writer as the sink. Here the writer behind it
//! is stuck for the whole run: every log call still returns, the lines that did not fit its
//! bounded buffer are counted, and none is lost uncounted.
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};

/// A writer that blocks until the gate opens, then counts the lines it gets.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<(bool, usize)>, Condvar)>);

impl Gate {
    fn open(&self) {
        let (state, cv) = &*self.0;
        state.lock().unwrap().0 = true;
        cv.notify_all();
    }

    fn lines(&self) -> usize {
        self.0 .0.lock().unwrap().1
    }
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (state, cv) = &*self.0;
        let mut s = cv.wait_while(state.lock().unwrap(), |s| !s.0).unwrap();
        s.1 += buf.iter().filter(|&&b| b == b'\n').count();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_stuck_log_reader_never_blocks_the_service_with_a_non_blocking_sink() {
    let gate = Gate::default();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(64)
        .lossy(true)
        .finish(gate.clone());
    let dropped = writer.error_counter();
    let (telemetry, dispatch) = baker_otel::Telemetry::builder()
        .env_source(baker_otel::config::EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "worker"),
            ("OTEL_SDK_DISABLED", "true"),
        ]))
        .json_sink(baker_otel::JsonSink::Writer(Arc::new(Mutex::new(writer))))
        .build()
        .unwrap();
    const LINES: usize = 2_000;
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..LINES {
            tracing::info!(i, "step");
        }
    });
    // Every call returned while the reader was stuck; what did not fit was dropped and counted.
    assert!(dropped.dropped_lines() > 0);
    gate.open();
    drop(guard); // flushes what was buffered
    assert_eq!(gate.lines() + dropped.dropped_lines(), LINES);
    telemetry.shutdown().unwrap();
}
