//! A scripted OTLP/HTTP trace receiver that misbehaves on purpose.
//!
//! It speaks just enough HTTP/1.1 over raw TCP (keep-alive, `Content-Length` bodies) to control
//! the failure modes exactly: each incoming request takes the next [`Fault`] from the script;
//! once the script is empty every request is accepted (200, decoded with `opentelemetry-proto`).
//! Spans are recorded only when the 200 is written, so "received" never overlaps with data the
//! client saw fail.
#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the receiver does with one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// `503 Service Unavailable` with `Retry-After: <secs>`.
    Unavailable { retry_after_secs: u64 },
    /// Read the request, then say nothing for this long and close the connection.
    Stall(Duration),
    /// Read the request, then reset the connection (RST via SO_LINGER 0).
    Reset,
}

#[derive(Default)]
pub struct State {
    pub script: VecDeque<Fault>,
    /// One entry per request: the fault applied, or `None` when it was accepted.
    pub requests: Vec<Option<Fault>>,
    /// Names of the spans accepted with a 200.
    pub spans: Vec<String>,
}

#[derive(Clone)]
pub struct FaultyCollector {
    pub addr: std::net::SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl FaultyCollector {
    /// Serves on 127.0.0.1:0 on its own thread and runtime.
    pub fn start(script: impl IntoIterator<Item = Fault>) -> Self {
        let state = Arc::new(Mutex::new(State {
            script: script.into_iter().collect(),
            ..State::default()
        }));
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                while let Ok((sock, _)) = l.accept().await {
                    tokio::spawn(serve(sock, st.clone()));
                }
            });
        });
        Self {
            addr: rx.recv().unwrap(),
            state,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted_spans(&self) -> usize {
        self.state.lock().unwrap().spans.len()
    }

    pub fn faults_served(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.is_some())
            .count()
    }

    /// Waits (bounded, generous) until `cond` holds.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&State) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if cond(&self.state.lock().unwrap()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("faulty collector never saw {what}");
    }
}

async fn serve(mut sock: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    loop {
        let Some(body) = read_request(&mut sock, &mut buf).await else {
            return;
        };
        let fault = {
            let mut s = state.lock().unwrap();
            let f = s.script.pop_front();
            s.requests.push(f);
            f
        };
        match fault {
            Some(Fault::Unavailable { retry_after_secs }) => {
                let resp = format!("HTTP/1.1 503 Service Unavailable\r\nRetry-After: {retry_after_secs}\r\nContent-Length: 0\r\n\r\n");
                if sock.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
            Some(Fault::Stall(d)) => {
                tokio::time::sleep(d).await;
                return;
            }
            Some(Fault::Reset) => {
                let _ = sock.set_zero_linger();
                return;
            }
            None => {
                let names: Vec<String> = match ExportTraceServiceRequest::decode(body.as_slice()) {
                    Ok(req) => req
                        .resource_spans
                        .into_iter()
                        .flat_map(|r| r.scope_spans)
                        .flat_map(|s| s.spans)
                        .map(|s| s.name)
                        .collect(),
                    Err(_) => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                };
                let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                // Record first, under the lock, then answer: the client only sees success for
                // data that is counted here.
                state.lock().unwrap().spans.extend(names);
                if sock.write_all(ok).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one request (head + `Content-Length` body); `None` on EOF or garbage.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let mut chunk = vec![0u8; (head_end + len - buf.len()).min(1 << 16)];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Some(body)
}
