//! OTLP over TLS and mTLS to real receivers inside the test (gRPC and HTTP), with certificates the
//! test generates; a wrong CA or a missing client certificate fails cleanly (counted as dropped,
//! no panic, nothing blocks); bad certificate settings are typed errors naming the variable.
#[path = "support/tls.rs"]
mod tls;

use baker_otel::config::{EnvSource, Signal};
use baker_otel::{ConfigError, InitError};
use tls::{Certs, TlsReceiver};

fn telemetry(
    receiver: &TlsReceiver,
    protocol: &str,
    extra: &[(&str, String)],
) -> (baker_otel::Telemetry, tracing::Dispatch) {
    let mut pairs: Vec<(String, String)> = [
        ("OTEL_SERVICE_NAME", "tls-test".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000".to_owned()),
        ("OTEL_BSP_EXPORT_TIMEOUT", "3000".to_owned()),
        ("OTEL_LOGS_EXPORTER", "none".to_owned()),
        ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ("BAKER_OTEL_JSON_LOGS", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    pairs.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs(pairs))
        .build()
        .expect("build")
}

fn emit(dispatch: &tracing::Dispatch, prefix: &str, n: usize) {
    tracing::dispatcher::with_default(dispatch, || {
        for i in 0..n {
            tracing::info_span!("op", otel.name = format!("{prefix}-{i}")).in_scope(|| {});
        }
    });
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

fn delivers(receiver: &TlsReceiver, protocol: &str, extra: &[(&str, String)]) {
    let (t, d) = telemetry(receiver, protocol, extra);
    emit(&d, "tls", 5);
    t.force_flush().expect("flush");
    receiver.wait_for_spans(5);
    assert_eq!(t.dropped(Signal::Traces), 0);
    t.shutdown().expect("shutdown");
    assert!(receiver
        .spans
        .lock()
        .unwrap()
        .iter()
        .all(|n| n.starts_with("tls-")));
}

#[test]
fn grpc_server_auth_and_mtls_deliver_spans() {
    let certs = Certs::generate("grpc");
    let ca = [("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&certs.ca))];
    delivers(&tls::grpc(&certs, false), "grpc", &ca);
    let mtls = [
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path(&certs.ca)),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(&certs.client_cert),
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&certs.client_key)),
        // gzip-compressed requests, accepted by the receiver.
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".to_owned()),
    ];
    delivers(&tls::grpc(&certs, true), "grpc", &mtls);
}

#[test]
fn http_server_auth_and_mtls_deliver_spans() {
    let certs = Certs::generate("http");
    let ca = [("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&certs.ca))];
    delivers(&tls::http(&certs, false), "http/protobuf", &ca);
    let mtls = [
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&certs.ca)),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            path(&certs.client_cert),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            path(&certs.client_key),
        ),
    ];
    delivers(&tls::http(&certs, true), "http/protobuf", &mtls);
}

#[test]
fn builder_options_configure_mtls() {
    let certs = Certs::generate("builder");
    let receiver = tls::grpc(&certs, true);
    let (t, d) = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs([
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("BAKER_OTEL_JSON_LOGS", "false"),
        ]))
        .otlp_protocol(baker_otel::config::Protocol::Grpc)
        .otlp_endpoint(receiver.endpoint())
        .otlp_certificate(&certs.ca)
        .otlp_client_identity(&certs.client_cert, &certs.client_key)
        .build()
        .expect("build");
    emit(&d, "tls", 3);
    t.force_flush().expect("flush");
    receiver.wait_for_spans(3);
    t.shutdown().expect("shutdown");
}

/// A handshake that cannot succeed: every span is counted as dropped, flush and shutdown return.
fn fails_cleanly(receiver: &TlsReceiver, protocol: &str, extra: &[(&str, String)]) {
    let (t, d) = telemetry(receiver, protocol, extra);
    emit(&d, "lost", 7);
    let _ = t.force_flush();
    let _ = t.shutdown();
    assert_eq!(receiver.span_count(), 0, "nothing got through");
    assert_eq!(
        t.dropped(Signal::Traces),
        7,
        "{protocol}: every span that could not be delivered is counted"
    );
}

#[test]
fn a_wrong_ca_or_a_missing_client_certificate_fails_cleanly() {
    let certs = Certs::generate("wrong");
    let wrong = [("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&certs.other_ca))];
    fails_cleanly(&tls::grpc(&certs, false), "grpc", &wrong);
    fails_cleanly(&tls::http(&certs, false), "http/protobuf", &wrong);
    // The CA is right, but the mTLS receiver wants a client certificate we do not present.
    let no_client = [("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&certs.ca))];
    fails_cleanly(&tls::grpc(&certs, true), "grpc", &no_client);
    let http = tls::http(&certs, true);
    fails_cleanly(&http, "http/protobuf", &no_client);
    assert!(
        http.handshake_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}

fn file_error(pairs: &[(&str, String)]) -> (String, String) {
    let err = baker_otel::Telemetry::builder()
        .env_source(EnvSource::from_pairs(pairs.iter().cloned()))
        .config()
        .expect_err("bad TLS setting");
    match err {
        InitError::Config(e @ ConfigError::File { .. }) => (e.name().to_owned(), e.to_string()),
        InitError::Config(e @ ConfigError::Invalid { .. }) => (e.name().to_owned(), e.to_string()),
        other => panic!("expected a ConfigError, got {other:?}"),
    }
}

#[test]
fn bad_certificate_settings_are_config_errors_naming_the_variable() {
    let certs = Certs::generate("bad");
    let garbage = certs.file("garbage.pem", "not a certificate at all");
    let cert_as_key = path(&certs.ca);

    let (name, msg) = file_error(&[(
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "/no/such/ca.pem".to_owned(),
    )]);
    assert_eq!(name, "OTEL_EXPORTER_OTLP_CERTIFICATE");
    assert!(msg.contains("/no/such/ca.pem"), "{msg}");

    let (name, msg) = file_error(&[("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", path(&garbage))]);
    assert_eq!(name, "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE");
    assert!(msg.contains("no PEM certificate"), "{msg}");

    let (name, msg) = file_error(&[
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(&certs.client_cert),
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", cert_as_key),
    ]);
    assert_eq!(name, "OTEL_EXPORTER_OTLP_CLIENT_KEY");
    assert!(msg.contains("private key"), "{msg}");

    let (name, _) = file_error(&[(
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        path(&certs.client_cert),
    )]);
    assert_eq!(
        name, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        "a key is needed too"
    );

    // The key's content never appears in an error.
    let key_pem = std::fs::read_to_string(&certs.client_key).unwrap();
    let (_, msg) = file_error(&[
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            path(&certs.client_key),
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&certs.client_key)),
    ]);
    let key_body = key_pem.lines().nth(1).unwrap();
    assert!(!msg.contains(key_body), "{msg}");
}
