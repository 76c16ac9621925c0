//! `worker`: consumes jobs from JetStream and runs the agent loop. See the crate docs.
#![forbid(unsafe_code)]

use agent_pipeline::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = agent_pipeline::telemetry("worker").init()?;
    // Every integration is built from the hub; prices are decoded now, not on the first call.
    let llm = agent_pipeline::llm_telemetry(&telemetry).build()?;
    agent_pipeline::worker::run(
        Settings::from_env(),
        &telemetry,
        &llm,
        agent_pipeline::shutdown_signal(),
    )
    .await?;
    telemetry.shutdown()?;
    Ok(())
}
