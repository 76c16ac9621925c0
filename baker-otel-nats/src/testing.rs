//! Test support (feature `testing`): a NATS server with JetStream for integration tests.
//!
//! ```no_run
//! # async fn demo() {
//! let client = async_nats::connect(baker_otel_nats::testing::nats_url()).await.unwrap();
//! # }
//! ```

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where Debian's package installs the server (`apt-get install nats-server`).
const DEBIAN_NATS_SERVER: &str = "/usr/sbin/nats-server";

/// The URL of a NATS server with JetStream for tests.
///
/// `NATS_URL` (default `nats://127.0.0.1:4222`) when something answers there; otherwise a
/// `nats-server -js` started once per test process on a free loopback port, with its own
/// JetStream store in a temporary directory, which stops (and removes the store) when the
/// test process exits. Panics with one line saying how to get a server when neither works.
pub fn nats_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        if answers(&url) {
            return url;
        }
        start_private_server().unwrap_or_else(|e| {
            panic!(
                "no NATS server answers at {url} and none could be started ({e}): \
                 set NATS_URL, or install one with `apt-get install nats-server`"
            )
        })
    })
    .clone()
}

fn answers(url: &str) -> bool {
    let hostport = url.rsplit("://").next().unwrap_or(url);
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    hostport.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
    })
}

fn start_private_server() -> Result<String, String> {
    let bin = if Path::new(DEBIAN_NATS_SERVER).exists() {
        DEBIAN_NATS_SERVER
    } else {
        "nats-server"
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let dir = std::env::temp_dir().join(format!("baker-otel-nats-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // A watchdog shell owns the server: it stops it (and removes the store) once this test
    // process is gone, so no server outlives the tests even when they are killed.
    let script = format!(
        "\"$0\" -a 127.0.0.1 -p {port} -js -sd \"$1\" >\"$1/nats.log\" 2>&1 & n=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $n 2>/dev/null; do sleep 0.5; done; \
         kill $n 2>/dev/null; wait $n; rm -rf \"$1\"",
        parent = std::process::id()
    );
    Command::new("sh")
        .args(["-c", &script, bin])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if answers(&url) {
            return Ok(url);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("nats.log")).unwrap_or_default();
    Err(format!(
        "{bin} did not listen on 127.0.0.1:{port}: {}",
        log.lines()
            .last()
            .unwrap_or("no output (is nats-server installed?)")
    ))
}
