//! Every background task is started, stopped and drained the same way: spawned on one [`TaskTracker`],
//! asked to stop by one [`CancellationToken`] (SIGTERM/SIGINT), and watched. A task that ends before it was
//! asked to — an error, a panic, or a loop that simply returned — is logged, makes `/healthz` unhealthy, and is
//! reported to the supervisor in `app`, which stops the process when the task was vital.

use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info};

use crate::health::Metrics;

/// Whether the process can go on without a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// The process stops (exit 1) when it ends unasked: the poller, the gateway, the health server.
    Vital,
    /// Logged and shown by `/healthz`; the alerts keep flowing: escalation, the watchdog, name lookups.
    Helper,
}

/// A task that ended before it was asked to stop.
#[derive(Debug)]
pub struct Stopped {
    pub task: &'static str,
    pub importance: Importance,
    pub error: String,
}

/// What a task returns: nothing (a loop that runs until cancelled) or a `Result`.
pub trait Outcome {
    fn into_error(self) -> Option<String>;
}

impl Outcome for () {
    fn into_error(self) -> Option<String> {
        None
    }
}

impl<E: Display> Outcome for Result<(), E> {
    fn into_error(self) -> Option<String> {
        self.err().map(|e| e.to_string())
    }
}

/// The process's background tasks.
pub struct Tasks {
    tracker: TaskTracker,
    token: CancellationToken,
    stopped_tx: mpsc::UnboundedSender<Stopped>,
    stopped_rx: mpsc::UnboundedReceiver<Stopped>,
    metrics: Arc<Metrics>,
}

impl Tasks {
    pub fn new(metrics: Arc<Metrics>) -> Tasks {
        let (stopped_tx, stopped_rx) = mpsc::unbounded_channel();
        Tasks {
            tracker: TaskTracker::new(),
            token: CancellationToken::new(),
            stopped_tx,
            stopped_rx,
            metrics,
        }
    }

    /// The token every task watches; cancelled once, at shutdown.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Start `task`, built from the shutdown token.
    pub fn spawn<F>(
        &self,
        name: &'static str,
        importance: Importance,
        task: impl FnOnce(CancellationToken) -> F,
    ) where
        F: Future + Send + 'static,
        F::Output: Outcome,
    {
        let token = self.token.clone();
        let future = task(token.clone());
        let stopped = self.stopped_tx.clone();
        let metrics = Arc::clone(&self.metrics);
        self.tracker.spawn(async move {
            let error = match AssertUnwindSafe(future).catch_unwind().await {
                Ok(outcome) => outcome.into_error(),
                Err(panic) => Some(format!("panicked: {}", panic_message(&*panic))),
            };
            let error = match error {
                None if token.is_cancelled() => {
                    info!(task = name, "task stopped");
                    return;
                }
                None => "ended before it was asked to stop".to_owned(),
                Some(e) => e,
            };
            error!(task = name, %error, "task stopped unexpectedly");
            metrics.task_stopped(name);
            let _ = stopped.send(Stopped {
                task: name,
                importance,
                error,
            });
        });
    }

    /// The next task that stopped unasked (pending forever while none does).
    pub async fn next_stopped(&mut self) -> Stopped {
        match self.stopped_rx.recv().await {
            Some(s) => s,
            // `self` holds a sender, so the channel never closes.
            None => std::future::pending().await,
        }
    }

    /// Ask every task to stop and wait at most `limit` for all of them; `false` when some did not finish.
    pub async fn drain(self, limit: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_ok()
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// SIGTERM or SIGINT.
pub async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_dies_is_reported_and_drain_waits_for_the_rest() {
        let metrics = Arc::new(Metrics::new(false));
        let mut tasks = Tasks::new(Arc::clone(&metrics));
        tasks.spawn("failing", Importance::Helper, |_| async {
            Err::<(), _>("no route")
        });
        tasks.spawn("panicking", Importance::Vital, |_| async {
            if true {
                panic!("boom");
            }
        });
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        tasks.spawn("loop", Importance::Vital, |token| async move {
            token.cancelled().await;
            let _ = done_tx.send(());
        });
        let mut seen = [tasks.next_stopped().await, tasks.next_stopped().await];
        seen.sort_by_key(|s| s.task);
        assert_eq!(seen[0].task, "failing");
        assert_eq!(seen[0].error, "no route");
        assert_eq!(seen[1].task, "panicking");
        assert_eq!(seen[1].error, "panicked: boom");
        assert!(metrics.problem(Duration::MAX, Duration::MAX).is_some());
        assert!(tasks.drain(Duration::from_secs(5)).await);
        assert!(done_rx.await.is_ok(), "the loop saw the cancellation");
    }
}
