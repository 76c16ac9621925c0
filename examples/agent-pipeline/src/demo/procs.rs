//! Starting and stopping the `brain` and `worker` processes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound, then released).
///
/// ```
/// assert!(agent_pipeline::demo::procs::free_port().unwrap() > 0);
/// ```
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// The path of a sibling binary of the running executable (`brain`, `worker`).
///
/// ```
/// let p = agent_pipeline::demo::procs::sibling_binary("brain").unwrap();
/// assert!(p.ends_with("brain"));
/// ```
pub fn sibling_binary(name: &str) -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| std::io::Error::other("executable has no parent directory"))?;
    // Integration tests run from target/<profile>/deps; the binaries sit one level up.
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    Ok(dir.join(name))
}

/// A child process whose stdout/stderr go to a log file; stopped with SIGTERM on [`stop`](Self::stop)
/// and killed on drop.
#[derive(Debug)]
pub struct Service {
    /// Name (`brain`, `worker`).
    pub name: String,
    /// File with the process's stdout (JSON log lines) and stderr.
    pub log: PathBuf,
    child: tokio::process::Child,
}

impl Service {
    /// Spawns `program` with `env` added to the inherited environment and output to `log`.
    pub fn spawn(
        name: &str,
        program: &Path,
        env: &[(String, String)],
        remove_env: &[&str],
        log: PathBuf,
    ) -> std::io::Result<Self> {
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = tokio::process::Command::new(program);
        for k in remove_env {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
        Ok(Self {
            name: name.to_string(),
            log,
            child,
        })
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM (the services flush telemetry and exit), then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// Polls `url` until it answers 200 or `timeout` passes.
pub async fn wait_http_ok(client: &reqwest::Client, url: &str, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await {
            if r.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
