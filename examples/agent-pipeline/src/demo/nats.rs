//! Finds a NATS server, or starts `nats-server -js` on a free port when none is reachable.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Why no NATS server could be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// Nothing answers at the URL and `nats-server` is not on `PATH`.
    #[error("no NATS server reachable at {url} and `nats-server` is not on PATH (install it: apt-get install nats-server)")]
    Unavailable {
        /// The URL tried.
        url: String,
    },
    /// Starting `nats-server` failed.
    #[error("could not start nats-server: {0}")]
    Start(String),
}

/// A reachable NATS server; a server started here is stopped on drop.
#[derive(Debug)]
pub struct NatsServer {
    /// URL to connect to.
    pub url: String,
    /// Whether this process started it.
    pub started: bool,
    child: Option<tokio::process::Child>,
    dir: Option<PathBuf>,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Whether a NATS client can connect to `url` within `timeout`.
pub async fn reachable(url: &str, timeout: Duration) -> bool {
    let opts = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        .retry_on_initial_connect();
    match tokio::time::timeout(timeout, opts.connect(url)).await {
        Ok(Ok(c)) => {
            let ok = c.flush().await.is_ok();
            drop(c);
            ok
        }
        _ => false,
    }
}

/// The server at `url` if it answers, else a private `nats-server -js` on a free port.
///
/// ```no_run
/// # async fn f() -> Result<(), agent_pipeline::demo::nats::NatsError> {
/// let nats = agent_pipeline::demo::nats::ensure("nats://127.0.0.1:4222").await?;
/// println!("using {}", nats.url);
/// # Ok(()) }
/// ```
pub async fn ensure(url: &str) -> Result<NatsServer, NatsError> {
    if reachable(url, Duration::from_secs(2)).await {
        return Ok(NatsServer {
            url: url.to_string(),
            started: false,
            child: None,
            dir: None,
        });
    }
    let port = super::procs::free_port().map_err(|e| NatsError::Start(e.to_string()))?;
    let dir =
        std::env::temp_dir().join(format!("agent-pipeline-nats-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| NatsError::Start(e.to_string()))?;
    let child = tokio::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(NatsError::Unavailable {
                url: url.to_string(),
            })
        }
        Err(e) => return Err(NatsError::Start(e.to_string())),
    };
    let server = NatsServer {
        url: format!("nats://127.0.0.1:{port}"),
        started: true,
        child: Some(child),
        dir: Some(dir),
    };
    for _ in 0..50 {
        if reachable(&server.url, Duration::from_millis(500)).await {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(NatsError::Start(format!(
        "nats-server on {} did not come up",
        server.url
    )))
}
