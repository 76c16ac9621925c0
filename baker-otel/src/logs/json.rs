//! JSON log lines: one object per `tracing` event, with trace/span ids and Baker ids.
//!
//! ```json
//! {"timestamp":"2026-11-25T20:19:39.123456Z","level":"INFO","target":"brain","message":"job queued","job_id":"j-1","trace_id":"…","span_id":"…","conversation_id":"c-9","service.name":"brain"}
//! ```
//! Event fields named `conversation_id` / `job_id` win over the ids from the context.

use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Where JSON lines go.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum JsonSink {
    /// Standard output (the default: container log collectors read it).
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
    /// An in-memory list of lines (tests; feature `testing`).
    #[cfg(feature = "testing")]
    Memory(Arc<Mutex<Vec<String>>>),
    /// Any writer (a file, a pipe, `std::io::sink()`); each line is written with one `write_all`.
    Writer(Arc<Mutex<dyn std::io::Write + Send>>),
}

impl std::fmt::Debug for JsonSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonSink::Stdout => "Stdout",
            JsonSink::Stderr => "Stderr",
            #[cfg(feature = "testing")]
            JsonSink::Memory(_) => "Memory",
            JsonSink::Writer(_) => "Writer",
        })
    }
}

/// A global filter that turns every span callsite off (used when the SDK is disabled, so spans
/// cost one cached interest check) while events still reach the JSON layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoSpans;

impl<S: Subscriber> Layer<S> for NoSpans {
    fn register_callsite(
        &self,
        m: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if m.is_span() {
            tracing::subscriber::Interest::never()
        } else {
            tracing::subscriber::Interest::always()
        }
    }
    fn enabled(&self, m: &tracing::Metadata<'_>, _: LayerContext<'_, S>) -> bool {
        !m.is_span()
    }
}

/// The `tracing` layer that writes JSON lines.
#[derive(Debug)]
pub(crate) struct JsonLayer {
    service_name: String,
    sink: JsonSink,
    /// Secrets (OTLP header values), raw and JSON-escaped, cut out of the lines of the exporters'
    /// own events (feedback targets such as `opentelemetry-otlp`, `tonic`, `h2`).
    secrets: Vec<String>,
}

impl JsonLayer {
    pub(crate) fn new(service_name: &str, sink: JsonSink) -> Self {
        let mut escaped = String::with_capacity(service_name.len() + 2);
        write_json_str(&mut escaped, service_name);
        Self {
            service_name: escaped,
            sink,
            secrets: Vec::new(),
        }
    }

    /// Redacts `secrets` from the lines of the exporter stack's own events.
    pub(crate) fn with_secrets(mut self, secrets: Vec<String>) -> Self {
        for s in secrets {
            let mut escaped = String::new();
            write_json_str(&mut escaped, &s);
            let escaped = escaped[1..escaped.len() - 1].to_owned();
            if escaped != s {
                self.secrets.push(escaped);
            }
            self.secrets.push(s);
        }
        // Longest first, so that a secret containing another is cut whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self
    }

    fn redact(&self, buf: &mut String) {
        for s in &self.secrets {
            if buf.contains(s.as_str()) {
                *buf = buf.replace(s.as_str(), crate::config::REDACTED);
            }
        }
    }
}

thread_local! {
    static BUF: RefCell<String> = RefCell::new(String::with_capacity(512));
}

/// Values longer than this are cut, with a marker, so one event cannot produce a giant line.
const MAX_VALUE_LEN: usize = 16 * 1024;

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        // An event with an explicit parent span is logged in that span's context.
        let _parent = crate::span_layer::explicit_parent(event, &ctx).map(Context::attach);
        let _ = BUF.try_with(|cell| {
            let Ok(mut buf) = cell.try_borrow_mut() else {
                return;
            };
            buf.clear();
            self.format(&mut buf, event);
            let target = event.metadata().target();
            // Only the exporter stack's events (and baker-otel's own, whose error texts come
            // from it) can carry the configured headers; application lines pay nothing.
            if !self.secrets.is_empty() && crate::logs::otlp::is_feedback_target(target) {
                self.redact(&mut buf);
            }
            self.write(&buf);
            if buf.capacity() > 64 * 1024 {
                *buf = String::with_capacity(512);
            }
        });
    }
}

impl JsonLayer {
    fn format(&self, buf: &mut String, event: &Event<'_>) {
        let meta = event.metadata();
        buf.push_str("{\"timestamp\":\"");
        write_rfc3339(buf, SystemTime::now());
        buf.push_str("\",\"level\":\"");
        buf.push_str(meta.level().as_str());
        buf.push_str("\",\"target\":");
        write_json_str(buf, meta.target());
        let mut v = FieldWriter {
            buf,
            has_conv: false,
            has_job: false,
        };
        event.record(&mut v);
        let (has_conv, has_job) = (v.has_conv, v.has_job);
        Context::map_current(|cx| {
            let span = cx.span();
            let sc = span.span_context();
            if sc.is_valid() {
                use crate::propagation::hex;
                buf.push_str(",\"trace_id\":\"");
                buf.push_str(hex::as_str(&hex::trace_id(sc)));
                buf.push_str("\",\"span_id\":\"");
                buf.push_str(hex::as_str(&hex::span_id(sc)));
                buf.push('"');
            }
            let (conv, job) = if has_conv && has_job {
                (None, None)
            } else {
                crate::context::id_refs(cx)
            };
            if let (Some(c), false) = (conv, has_conv) {
                buf.push_str(",\"conversation_id\":");
                write_json_str(buf, c);
            }
            if let (Some(j), false) = (job, has_job) {
                buf.push_str(",\"job_id\":");
                write_json_str(buf, j);
            }
        });
        buf.push_str(",\"service.name\":");
        buf.push_str(&self.service_name);
        buf.push_str("}\n");
    }

    fn write(&self, line: &str) {
        match &self.sink {
            JsonSink::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            JsonSink::Stderr => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            JsonSink::Writer(w) => {
                if let Ok(mut w) = w.lock() {
                    let _ = w.write_all(line.as_bytes());
                }
            }
            #[cfg(feature = "testing")]
            JsonSink::Memory(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.push(line.trim_end().to_owned());
                }
            }
        }
    }
}

struct FieldWriter<'a> {
    buf: &'a mut String,
    has_conv: bool,
    has_job: bool,
}

impl FieldWriter<'_> {
    fn key(&mut self, field: &Field) {
        let name = field.name();
        match name {
            "conversation_id" => self.has_conv = true,
            "job_id" => self.has_job = true,
            _ => {}
        }
        self.buf.push(',');
        // `r#type` style raw identifiers keep their `r#` in tracing; strip it.
        write_json_str(self.buf, name.strip_prefix("r#").unwrap_or(name));
        self.buf.push(':');
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        write_json_str(self.buf, crate::util::truncate_str(value, MAX_VALUE_LEN));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.buf.push_str(itoa::Buffer::new().format(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.buf.push_str(itoa::Buffer::new().format(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            self.buf.push_str(ryu::Buffer::new().format_finite(value));
        } else {
            self.buf.push_str("null");
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.buf.push_str(if value { "true" } else { "false" });
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.buf.push('"');
        let mut esc = Escaper {
            buf: self.buf,
            left: MAX_VALUE_LEN,
        };
        let _ = write!(esc, "{value:?}");
        if esc.left == 0 {
            self.buf.push_str("…[truncated]");
        }
        self.buf.push('"');
    }
}

/// `fmt::Write` adaptor that JSON-escapes on the fly and stops after `left` bytes.
struct Escaper<'a> {
    buf: &'a mut String,
    left: usize,
}

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.left == 0 {
            return Ok(());
        }
        let s = crate::util::truncate_str(s, self.left);
        self.left -= s.len();
        escape_into(self.buf, s);
        if self.left == 0 {
            // stop: remaining output is dropped
        }
        Ok(())
    }
}

/// Writes `s` as a quoted JSON string.
pub(crate) fn write_json_str(buf: &mut String, s: &str) {
    buf.push('"');
    escape_into(buf, s);
    buf.push('"');
}

fn escape_into(buf: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // Most keys and values need no escaping: one scan, one copy.
    let Some(first) = first_to_escape(bytes) else {
        buf.push_str(s);
        return;
    };
    buf.push_str(&s[..first]);
    let mut start = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        buf.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(buf, "\\u{:04x}", b);
        } else {
            buf.push_str(esc);
        }
        start = i + 1;
    }
    buf.push_str(&s[start..]);
}

/// Index of the first byte that JSON must escape (`"`, `\\`, or a control character).
/// Eight bytes at a time (SWAR): keys and values are mostly plain text.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for c in chunks.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // A byte below 0x20, or equal to '"' or '\\'.
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        if below_space
            || has_zero(x ^ (ONES * u64::from(b'"')))
            || has_zero(x ^ (ONES * u64::from(b'\\')))
        {
            break;
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|i| at + i)
}

/// RFC 3339 UTC timestamp with microseconds, e.g. `2026-11-25T20:19:39.123456Z`.
pub(crate) fn write_rfc3339(buf: &mut String, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(days as i64);
    let (h, mi, s, us) = (rem / 3600, (rem / 60) % 60, rem % 60, d.subsec_micros());
    if !(0..=9999).contains(&y) {
        let _ = write!(buf, "{y:04}-{m:02}-{dd:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z");
        return;
    }
    // Digits written into a fixed buffer, far cheaper than `write!` (see the core bench's docs).
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y as u64);
    put(5, 2, u64::from(m));
    put(8, 2, u64::from(dd));
    put(11, 2, h);
    put(14, 2, mi);
    put(17, 2, s);
    put(20, 6, u64::from(us));
    // ASCII digits and separators only: always valid UTF-8.
    buf.push_str(std::str::from_utf8(&out).unwrap_or_default());
}

/// Howard Hinnant's days → civil date algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
