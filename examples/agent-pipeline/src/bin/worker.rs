//! `worker`: consumes jobs from JetStream and runs the agent loop. See the crate docs.
#![forbid(unsafe_code)]

use agent_pipeline::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = agent_pipeline::telemetry("worker").init()?;
    // After the core: GenAI instruments come from its global meter; prices are decoded now.
    let _llm = agent_pipeline::llm_telemetry().install()?;
    agent_pipeline::worker::run(
        Settings::from_env(),
        &telemetry,
        agent_pipeline::shutdown_signal(),
    )
    .await?;
    telemetry.shutdown()?;
    Ok(())
}
