//! The process's counters and liveness, shared by the poller, the gateway, `/healthz`, `/metrics` and the
//! `/health` command. Plain atomics: no I/O.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the process has done, shared by the poller, the gateway and the health server.
#[derive(Debug, Default)]
pub struct Metrics {
    pub received: AtomicU64,
    pub posted: AtomicU64,
    pub duplicates: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub not_alerts: AtomicU64,
    discord_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Unix seconds of the last alert Discord accepted (0: none yet).
    pub last_alert: AtomicI64,
    /// Unix seconds of the poller's last loop turn.
    pub poller_heartbeat: AtomicI64,
    /// Unix seconds since when delivery has failed without a success in between (0: it works).
    pub delivery_failing_since: AtomicI64,
    /// Whether the Discord gateway is connected (always true when there is no gateway: webhook, console).
    pub gateway_connected: AtomicBool,
    pub started: AtomicI64,
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Metrics {
    pub fn new(has_gateway: bool) -> Metrics {
        let m = Metrics::default();
        m.gateway_connected.store(!has_gateway, Ordering::Relaxed);
        m.started.store(now_unix(), Ordering::Relaxed);
        m
    }

    pub fn count_discord_error(&self, kind: &'static str) {
        let mut map = self
            .discord_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *map.entry(kind).or_default() += 1;
    }

    pub fn discord_errors(&self) -> BTreeMap<&'static str, u64> {
        self.discord_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Discord did not accept a message.
    pub fn delivery_failed(&self, kind: &'static str) {
        self.count_discord_error(kind);
        let _ = self.delivery_failing_since.compare_exchange(
            0,
            now_unix(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Discord accepted a message.
    pub fn delivery_ok(&self) {
        self.delivery_failing_since.store(0, Ordering::Relaxed);
    }

    /// What is wrong, if anything: a stale poller, a disconnected gateway, or delivery failing for longer than
    /// `delivery_unhealthy_after`.
    pub fn problem(
        &self,
        poller_stale_after: Duration,
        delivery_unhealthy_after: Duration,
    ) -> Option<String> {
        let now = now_unix();
        let beat = self.poller_heartbeat.load(Ordering::Relaxed);
        if beat == 0 || now - beat > poller_stale_after.as_secs() as i64 {
            return Some("the SQS poller has not turned recently".to_owned());
        }
        if !self.gateway_connected.load(Ordering::Relaxed) {
            return Some("the Discord gateway is not connected".to_owned());
        }
        let since = self.delivery_failing_since.load(Ordering::Relaxed);
        if since > 0 && now - since >= delivery_unhealthy_after.as_secs() as i64 {
            return Some(format!(
                "Discord has not accepted an alert for {} s (see iam_alarm_discord_errors_total and the log)",
                now - since
            ));
        }
        None
    }

    pub fn beat(&self) {
        self.poller_heartbeat.store(now_unix(), Ordering::Relaxed);
    }

    pub fn prometheus(&self) -> String {
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            "iam_alarm_messages_received_total",
            "SQS messages received.",
            load(&self.received),
        );
        counter(
            "iam_alarm_alerts_posted_total",
            "Alerts Discord accepted.",
            load(&self.posted),
        );
        counter(
            "iam_alarm_duplicates_skipped_total",
            "Events already posted, skipped.",
            load(&self.duplicates),
        );
        counter(
            "iam_alarm_dead_lettered_total",
            "Messages moved to the dead-letter queue.",
            load(&self.dead_lettered),
        );
        counter(
            "iam_alarm_not_alerts_total",
            "Valid messages that raise no alert (deleted).",
            load(&self.not_alerts),
        );
        let _ = writeln!(
            s,
            "# HELP iam_alarm_discord_errors_total Discord delivery errors, by kind.\n# TYPE iam_alarm_discord_errors_total counter"
        );
        for (kind, n) in self.discord_errors() {
            let _ = writeln!(s, "iam_alarm_discord_errors_total{{kind=\"{kind}\"}} {n}");
        }
        let gauge = |s: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut s,
            "iam_alarm_last_alert_timestamp_seconds",
            "Unix time of the last alert posted (0: none).",
            self.last_alert.load(Ordering::Relaxed),
        );
        gauge(
            &mut s,
            "iam_alarm_gateway_connected",
            "1 while the Discord gateway is connected.",
            self.gateway_connected.load(Ordering::Relaxed) as i64,
        );
        gauge(
            &mut s,
            "iam_alarm_start_timestamp_seconds",
            "Unix time the process started.",
            self.started.load(Ordering::Relaxed),
        );
        s
    }
}
