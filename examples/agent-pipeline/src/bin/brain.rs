//! `brain`: the HTTP API of the agent pipeline. See the crate docs.
#![forbid(unsafe_code)]

use agent_pipeline::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = agent_pipeline::telemetry("brain").init()?;
    // Every integration is built from the hub; prices are decoded now, not on the first call.
    let llm = agent_pipeline::llm_telemetry(&telemetry).build()?;
    let settings = Settings::from_env();
    let addr = settings.brain_addr;
    let metrics_addr = settings.brain_metrics_addr;
    let (state, _depth) = agent_pipeline::brain::connect(settings, &telemetry, &llm).await?;
    let app = agent_pipeline::brain::router(state, &telemetry);
    // `/metrics` on the internal address only, never on the public port.
    let metrics_listener = tokio::net::TcpListener::bind(metrics_addr).await?;
    let metrics_app = agent_pipeline::metrics_router(&telemetry);
    tokio::spawn(async move {
        let _ = axum::serve(metrics_listener, metrics_app).await;
    });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, metrics = %metrics_addr, "brain listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(agent_pipeline::shutdown_signal())
        .await?;
    tracing::info!("brain stopped");
    telemetry.shutdown()?;
    Ok(())
}
