use super::*;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    parse(&EnvSource::from_pairs(pairs.iter().copied()))
}

#[test]
fn defaults_follow_the_spec() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.traces.endpoint, "http://localhost:4317");
    assert_eq!(c.traces.protocol, Protocol::Grpc);
    assert_eq!(c.traces.exporters, vec![ExporterKind::Otlp]);
    assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
    assert_eq!(
        c.propagators,
        vec![PropagatorKind::TraceContext, PropagatorKind::Baggage]
    );
    assert_eq!(c.metric_export_interval, Duration::from_secs(60));
    assert_eq!(c.span_batch, BatchConfig::SPANS);
    assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
    assert!(c.service_name.starts_with("unknown_service:"));
    assert!(!c.disabled);
}

#[test]
fn env_table() {
    let c = cfg(&[
        ("OTEL_SERVICE_NAME", "brain"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=prod, team=agents%20core",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "http://logs:9999/custom",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret,x-tenant=a"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
        ("OTEL_PROPAGATORS", "tracecontext"),
        ("RUST_LOG", "debug"),
    ])
    .unwrap();
    assert_eq!(c.service_name, "brain");
    assert_eq!(
        c.resource_attributes[1],
        ("team".into(), "agents core".into())
    );
    assert_eq!(c.traces.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(c.metrics.endpoint, "http://collector:4318/v1/metrics");
    assert_eq!(c.logs.endpoint, "http://logs:9999/custom");
    assert_eq!(
        c.traces.headers,
        vec![
            ("api-key".into(), "secret".into()),
            ("x-tenant".into(), "a".into())
        ]
    );
    assert_eq!(c.metrics.timeout, Duration::from_millis(2500));
    assert_eq!(c.traces.timeout, Duration::from_secs(10));
    assert_eq!(c.traces.compression, Some(Compression::Gzip));
    assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.1));
    assert_eq!(
        c.metrics.exporters,
        vec![ExporterKind::Otlp, ExporterKind::Prometheus]
    );
    assert!(c.logs.exporters.is_empty());
    assert_eq!(c.traces.exporters, vec![ExporterKind::Console]);
    assert_eq!(c.metric_export_interval, Duration::from_secs(1));
    assert_eq!(c.span_batch.max_queue_size, 100);
    assert_eq!(
        c.span_batch.max_export_batch_size, 100,
        "batch size is capped by the queue size"
    );
    assert_eq!(c.propagators, vec![PropagatorKind::TraceContext]);
    assert_eq!(c.log_filter, "debug");
    assert_eq!(c.limits, Limits::default());
}

#[test]
fn limits_from_env() {
    let c = cfg(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "5"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "99999999999"),
    ])
    .unwrap();
    assert_eq!(
        c.limits.attribute_value_length, 64,
        "span-specific beats generic"
    );
    assert_eq!(c.limits.attribute_count, 10);
    assert_eq!(c.limits.event_count, 5);
    assert_eq!(c.limits.link_count, u32::MAX);
    assert_eq!(
        c.limits.log_attribute_value_length, 100,
        "generic applies to logs"
    );
    assert_eq!(c.limits.log_attribute_count, 10);
    let c = cfg(&[
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "50"),
        ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "3"),
    ])
    .unwrap();
    assert_eq!(c.limits.log_attribute_value_length, 50);
    assert_eq!(c.limits.log_attribute_count, 3);
    assert_eq!(c.limits.attribute_value_length, 100);
    assert_eq!(
        cfg(&[("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "x")])
            .unwrap_err()
            .name(),
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"
    );
}

#[test]
fn service_name_falls_back_to_resource_attributes() {
    let c = cfg(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=worker")]).unwrap();
    assert_eq!(c.service_name, "worker");
}

#[test]
fn invalid_values_name_the_variable() {
    let cases: &[(&str, &str)] = &[
        ("OTEL_SDK_DISABLED", "maybe"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/relative"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "bad name=v"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "perhaps"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem"),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "/no/such/key.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/no/such/cert.pem"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_LOGS_EXPORTER", "prometheus"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
        ("OTEL_PROPAGATORS", "b3"),
        ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
        ("BAKER_OTEL_SHUTDOWN_TIMEOUT", "1.5"),
        ("BAKER_OTEL_EXPORT_MAX_BYTES", "100"),
    ];
    for (name, value) in cases {
        let err = cfg(&[(name, value)]).expect_err(name);
        assert_eq!(err.name(), *name, "{err}");
        assert!(err.to_string().contains(name));
    }
    let err = cfg(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
    ])
    .unwrap_err();
    assert_eq!(err.name(), "OTEL_TRACES_SAMPLER_ARG");
}

#[test]
fn huge_and_odd_values_do_not_panic() {
    let huge = "x".repeat(1 << 20);
    let err = cfg(&[("OTEL_TRACES_SAMPLER", huge.as_str())]).unwrap_err();
    assert!(err.to_string().len() < 1000);
    assert_eq!(percent_decode("%"), "%");
    assert_eq!(percent_decode("%4"), "%4");
    assert_eq!(percent_decode("a%41"), "aA");
    assert_eq!(percent_decode("%zz"), "%zz");
    assert_eq!(percent_decode("%ff"), "\u{fffd}");
}

const ALL: Compiled = Compiled {
    otlp_grpc: true,
    otlp_http: true,
    prometheus: true,
};

fn cfg_for(compiled: Compiled, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    parse_for(&EnvSource::from_pairs(pairs.iter().copied()), compiled)
}

fn feature_error(err: ConfigError) -> (String, String, &'static str) {
    match err {
        ConfigError::FeatureDisabled {
            name,
            value,
            feature,
        } => (name, value, feature),
        other => panic!("expected FeatureDisabled, got {other:?}"),
    }
}

#[test]
fn defaults_follow_the_compiled_exporters() {
    let none = Compiled {
        otlp_grpc: false,
        otlp_http: false,
        prometheus: false,
    };
    let c = cfg_for(none, &[]).unwrap();
    assert!(c.traces.exporters.is_empty() && c.logs.exporters.is_empty());
    assert!(c.metrics.exporters.is_empty());
    let c = cfg_for(none, &[("OTEL_TRACES_EXPORTER", "console")]).unwrap();
    assert_eq!(c.traces.exporters, vec![ExporterKind::Console]);

    let http_only = Compiled {
        otlp_grpc: false,
        ..ALL
    };
    let c = cfg_for(http_only, &[]).unwrap();
    assert_eq!(c.traces.exporters, vec![ExporterKind::Otlp]);
    assert_eq!(c.traces.protocol, Protocol::HttpProtobuf);
    assert_eq!(c.traces.endpoint, "http://localhost:4318/v1/traces");

    let c = cfg_for(ALL, &[]).unwrap();
    assert_eq!(c.traces.protocol, Protocol::Grpc);
    assert_eq!(
        Compiled::THIS_BUILD.default_exporters().is_empty(),
        !Compiled::THIS_BUILD.any_otlp()
    );
}

#[test]
fn an_exporter_left_out_of_the_build_names_the_variable_and_the_feature() {
    let none = Compiled {
        otlp_grpc: false,
        otlp_http: false,
        prometheus: false,
    };
    let err = cfg_for(none, &[("OTEL_LOGS_EXPORTER", "console,otlp")]).unwrap_err();
    assert_eq!(
        feature_error(err),
        (
            "OTEL_LOGS_EXPORTER".into(),
            "console,otlp".into(),
            "otlp-grpc"
        )
    );
    let err = cfg_for(
        none,
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
    )
    .unwrap_err();
    assert_eq!(
        feature_error(err),
        ("OTEL_TRACES_EXPORTER".into(), "otlp".into(), "otlp-http")
    );

    let no_prometheus = Compiled {
        prometheus: false,
        ..ALL
    };
    let err = cfg_for(
        no_prometheus,
        &[("OTEL_METRICS_EXPORTER", "otlp,prometheus")],
    )
    .unwrap_err();
    let msg = err.to_string();
    assert_eq!(
        feature_error(err),
        (
            "OTEL_METRICS_EXPORTER".into(),
            "otlp,prometheus".into(),
            "prometheus"
        )
    );
    assert!(
        msg.contains("OTEL_METRICS_EXPORTER") && msg.contains("\"prometheus\""),
        "{msg}"
    );

    let grpc_only = Compiled {
        otlp_http: false,
        ..ALL
    };
    let err = cfg_for(
        grpc_only,
        &[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")],
    )
    .unwrap_err();
    assert_eq!(
        feature_error(err),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL".into(),
            "http/protobuf".into(),
            "otlp-http"
        )
    );
    // A protocol for a signal that does not export over OTLP is not an error.
    cfg_for(
        grpc_only,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ],
    )
    .unwrap();
}

#[test]
fn builder_settings_left_out_of_the_build_name_the_builder_method() {
    let http_only = Compiled {
        otlp_grpc: false,
        ..ALL
    };
    let err = http_only
        .check_builder(Signal::Traces, ExporterKind::Otlp, Protocol::Grpc)
        .unwrap_err();
    assert_eq!(
        feature_error(err),
        (
            "TelemetryBuilder::otlp_protocol".into(),
            "grpc".into(),
            "otlp-grpc"
        )
    );
    let none = Compiled {
        otlp_grpc: false,
        otlp_http: false,
        prometheus: false,
    };
    let err = none
        .check_builder(Signal::Metrics, ExporterKind::Prometheus, Protocol::Grpc)
        .unwrap_err();
    assert_eq!(
        feature_error(err),
        (
            "TelemetryBuilder::exporters(Signal::Metrics)".into(),
            "prometheus".into(),
            "prometheus"
        )
    );
    ALL.check_builder(Signal::Logs, ExporterKind::Otlp, Protocol::HttpJson)
        .unwrap();
    none.check_builder(Signal::Logs, ExporterKind::Console, Protocol::Grpc)
        .unwrap();
}
