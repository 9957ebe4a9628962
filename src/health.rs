//! Liveness and counters: `GET /healthz` and `GET /metrics` (Prometheus text) on `HEALTH_ADDR`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub use iam_alarm_core::metrics::{now_unix, Metrics};

use tokio_util::sync::CancellationToken;

/// When `/healthz` turns 503.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    /// The poller has not turned for this long (a long poll, a full retry wait and some slack).
    pub poller_stale_after: Duration,
    /// Discord has accepted nothing for this long (`DELIVERY_UNHEALTHY_AFTER_S`).
    pub delivery_unhealthy_after: Duration,
}

#[derive(Clone)]
struct HealthState {
    metrics: Arc<Metrics>,
    thresholds: Thresholds,
}

/// Serve `/healthz` and `/metrics` until shutdown.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    thresholds: Thresholds,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "health endpoint listening");
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(HealthState {
            metrics,
            thresholds,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn healthz(State(state): State<HealthState>) -> impl IntoResponse {
    let m = &state.metrics;
    let t = state.thresholds;
    let problem = m.problem(t.poller_stale_after, t.delivery_unhealthy_after);
    let s = m.snapshot();
    let body = serde_json::json!({
        "healthy": problem.is_none(),
        "problem": problem,
        "gateway_connected": s.gateway_connected,
        "poller_heartbeat": s.poller_heartbeat,
        "last_alert": s.last_alert,
        "delivery_failing_since": s.delivery_failing_since,
    });
    let status = if problem.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

async fn metrics_text(State(state): State<HealthState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.prometheus(),
    )
}

/// `iam-alarm healthcheck`: ask the running bot. Exit 0 when healthy, 1 otherwise (with the reason on stderr).
pub async fn check(addr: SocketAddr) -> std::process::ExitCode {
    let url = format!("http://{addr}/healthz");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("an HTTP client");
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => std::process::ExitCode::SUCCESS,
        Ok(r) => {
            let status = r.status();
            eprintln!("unhealthy: {status} {}", r.text().await.unwrap_or_default());
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {}", e.without_url());
            std::process::ExitCode::FAILURE
        }
    }
}
