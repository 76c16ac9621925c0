//! The OpenTelemetry [`Resource`]: who is emitting (service, host, process, Kubernetes pod).

use crate::config::Config;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::resource as rc;

/// Downward-API environment variables (set by `deploy/components/app-otel`) and the resource
/// attribute each one becomes.
pub(crate) const K8S_ENV: &[(&str, &str)] = &[
    ("K8S_POD_NAME", rc::K8S_POD_NAME),
    ("K8S_POD_UID", rc::K8S_POD_UID),
    ("K8S_NAMESPACE_NAME", rc::K8S_NAMESPACE_NAME),
    ("K8S_NODE_NAME", rc::K8S_NODE_NAME),
    ("K8S_CONTAINER_NAME", rc::K8S_CONTAINER_NAME),
    ("K8S_DEPLOYMENT_NAME", rc::K8S_DEPLOYMENT_NAME),
];

/// Settings from the builder that extend the resource.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceOverrides {
    pub(crate) service_version: Option<String>,
    pub(crate) service_namespace: Option<String>,
    pub(crate) deployment_environment: Option<String>,
    pub(crate) attributes: Vec<KeyValue>,
}

pub(crate) fn build(
    cfg: &Config,
    o: &ResourceOverrides,
    env: &crate::config::EnvSource,
) -> Resource {
    let mut attrs: Vec<KeyValue> = Vec::with_capacity(24);
    // Lowest precedence first: detected values, then OTEL_RESOURCE_ATTRIBUTES, then builder.
    if let Ok(host) = hostname() {
        attrs.push(KeyValue::new(rc::HOST_NAME, host));
    }
    attrs.push(KeyValue::new(rc::HOST_ARCH, std::env::consts::ARCH));
    attrs.push(KeyValue::new(rc::OS_TYPE, std::env::consts::OS));
    attrs.push(KeyValue::new(
        rc::PROCESS_PID,
        i64::from(std::process::id()),
    ));
    if let Ok(exe) = std::env::current_exe() {
        if let Some(name) = exe.file_name() {
            attrs.push(KeyValue::new(
                rc::PROCESS_EXECUTABLE_NAME,
                name.to_string_lossy().into_owned(),
            ));
        }
    }
    attrs.push(KeyValue::new(rc::PROCESS_RUNTIME_NAME, "rust"));
    // Required by the `process` entity of semantic conventions v1.41 (Weaver live-check).
    if let Some(t) = process_start_time() {
        let mut when = String::with_capacity(27);
        crate::logs::json::write_rfc3339(&mut when, t);
        attrs.push(KeyValue::new("process.creation.time", when));
    }
    for (var, key) in K8S_ENV {
        if let Some(v) = env.get(var) {
            attrs.push(KeyValue::new(*key, v));
        }
    }
    for (k, v) in &cfg.resource_attributes {
        attrs.push(KeyValue::new(k.clone(), v.clone()));
    }
    if let Some(v) = &o.service_version {
        attrs.push(KeyValue::new(rc::SERVICE_VERSION, v.clone()));
    }
    if let Some(v) = &o.service_namespace {
        attrs.push(KeyValue::new(rc::SERVICE_NAMESPACE, v.clone()));
    }
    if let Some(v) = &o.deployment_environment {
        attrs.push(KeyValue::new(rc::DEPLOYMENT_ENVIRONMENT_NAME, v.clone()));
    }
    attrs.extend(o.attributes.iter().cloned());
    // The SDK builder adds telemetry.sdk.* and keeps the last value of a repeated key.
    Resource::builder_empty()
        .with_attributes(default_sdk_attrs())
        .with_attributes(attrs)
        .with_service_name(cfg.service_name.clone())
        .build()
}

fn default_sdk_attrs() -> Vec<KeyValue> {
    vec![
        KeyValue::new(rc::TELEMETRY_SDK_NAME, "opentelemetry"),
        KeyValue::new(rc::TELEMETRY_SDK_LANGUAGE, "rust"),
        KeyValue::new(rc::TELEMETRY_SDK_VERSION, "0.33"),
        KeyValue::new("telemetry.distro.name", "baker-otel"),
        KeyValue::new("telemetry.distro.version", env!("CARGO_PKG_VERSION")),
    ]
}

/// Start time of this process from `/proc/self/stat` (field 22, in USER_HZ = 100 ticks after
/// boot) and the boot time in `/proc/stat`; `None` off Linux.
fn process_start_time() -> Option<std::time::SystemTime> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let ticks: u64 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    let btime: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(btime)
            + std::time::Duration::from_millis(ticks * 10),
    )
}

fn hostname() -> std::io::Result<String> {
    if let Ok(h) = std::env::var("HOSTNAME") {
        if !h.is_empty() {
            return Ok(h);
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvSource;
    use opentelemetry::Key;

    #[test]
    fn process_start_time_is_in_the_past() {
        if let Some(t) = process_start_time() {
            assert!(t <= std::time::SystemTime::now());
            assert!(t > std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
        }
    }

    #[test]
    fn resource_has_service_k8s_and_overrides() {
        let env = EnvSource::from_pairs([
            ("OTEL_SERVICE_NAME", "worker"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=staging,service.version=0.0.1",
            ),
            ("K8S_POD_NAME", "worker-7d9f"),
            ("K8S_NAMESPACE_NAME", "baker"),
            ("K8S_NODE_NAME", "node-1"),
        ]);
        let cfg = Config::from_source(&env).unwrap();
        let o = ResourceOverrides {
            service_version: Some("1.2.3".into()),
            ..Default::default()
        };
        let r = build(&cfg, &o, &env);
        let get = |k: &'static str| r.get(&Key::from_static_str(k)).map(|v| v.to_string());
        assert_eq!(get("service.name").as_deref(), Some("worker"));
        assert_eq!(
            get("service.version").as_deref(),
            Some("1.2.3"),
            "builder beats env"
        );
        assert_eq!(
            get("deployment.environment.name").as_deref(),
            Some("staging")
        );
        assert_eq!(get("k8s.pod.name").as_deref(), Some("worker-7d9f"));
        assert_eq!(get("k8s.namespace.name").as_deref(), Some("baker"));
        assert_eq!(get("k8s.node.name").as_deref(), Some("node-1"));
        assert_eq!(get("telemetry.sdk.language").as_deref(), Some("rust"));
        assert!(get("process.pid").is_some());
        assert!(get("host.name").is_some());
    }
}
