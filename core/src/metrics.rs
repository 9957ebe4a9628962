//! The process's counters and liveness, shared by the poller, the gateway, `/healthz`, `/metrics` and the
//! `/health` command. The counters are `prometheus-client` metrics in one registry (what `/metrics` serves);
//! readers that are not Prometheus take a [`Snapshot`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use prometheus_client::registry::Unit;

/// Set `gauge` to Unix time `at` (0 or less: unknown, so now; never in the future) unless it holds a newer one:
/// what arrives after an outage may come out of order.
fn keep_newest(gauge: &Gauge, at: i64) {
    let now = now_unix();
    let at = if at <= 0 { now } else { at.min(now) };
    if at > gauge.get() {
        gauge.set(at);
    }
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

type Labels = Vec<(&'static str, &'static str)>;

/// The counters' names and help, in the order `Metrics::new` registers them.
const COUNTERS: [(&str, &str); 5] = [
    ("messages_received", "SQS messages received."),
    ("alerts_posted", "Alerts Discord accepted."),
    ("duplicates_skipped", "Events already posted, skipped."),
    ("dead_lettered", "Messages moved to the dead-letter queue."),
    (
        "not_alerts",
        "Valid messages that raise no alert (deleted).",
    ),
];

/// The gauges' names and help, likewise.
const GAUGES: [(&str, &str); 7] = [
    (
        "last_alert_timestamp_seconds",
        "Unix time of the last alert posted (0: none).",
    ),
    (
        "gateway_connected",
        "1 while the Discord gateway is connected.",
    ),
    ("start_timestamp_seconds", "Unix time the process started."),
    (
        "last_heartbeat_timestamp_seconds",
        "Unix time of the newest heartbeat from the iam-alarm-heartbeat rule (0: none since start).",
    ),
    (
        "watchdog_last_run_timestamp_seconds",
        "Unix time the watchdog last looked at the pipeline or the heartbeat (0: never).",
    ),
    (
        "watchdog_problems",
        "Pipeline problems the watchdog announced that have not recovered.",
    ),
    (
        "last_canary_timestamp_seconds",
        "CloudTrail time of the newest canary call that reached the bot (0: none since start).",
    ),
];

/// Detection latency buckets, in seconds: CloudTrail → EventBridge takes seconds to minutes.
const LATENCY_BUCKETS: [f64; 11] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];
/// How far back `/health`'s latency figures look, and how many samples they keep at most.
const LATENCY_WINDOW_S: i64 = 86_400;
const LATENCY_SAMPLES_MAX: usize = 50_000;

/// What the process has done, shared by the poller, the gateway and the health server.
pub struct Metrics {
    registry: Registry,
    received: Counter,
    posted: Counter,
    duplicates: Counter,
    dead_lettered: Counter,
    not_alerts: Counter,
    discord_errors: Family<Labels, Counter>,
    /// Events a rule suppressed, by rule name.
    suppressed: Family<Vec<(&'static str, String)>, Counter>,
    /// Unix seconds of the last alert Discord accepted (0: none yet).
    last_alert: Gauge,
    /// 1 while the Discord gateway is connected (always 1 when there is no gateway: webhook, console).
    gateway_connected: Gauge,
    started: Gauge,
    last_heartbeat: Gauge,
    watchdog_last_run: Gauge,
    watchdog_problems: Gauge,
    /// Unix seconds of the poller's last loop turn (liveness, for `/healthz`).
    poller_heartbeat: AtomicI64,
    /// Unix seconds since when delivery has failed without a success in between (0: it works).
    delivery_failing_since: AtomicI64,
    /// Background tasks that ended before shutdown asked them to.
    stopped_tasks: Mutex<Vec<&'static str>>,
    tasks_stopped: Family<Labels, Counter>,
    /// Messages not believed (not signed by SNS from our topic), by reason.
    rejected: Family<Labels, Counter>,
    /// The latest of them, for the watchdog's announcement.
    forgery: Mutex<Option<Forgery>>,
    /// Messages whose signature could not be checked since the last one that could: how many, and why.
    unverifiable: Mutex<(u64, String)>,
    last_canary: Gauge,
    /// How long the watchdog's last look at the pipeline took, in seconds.
    watchdog_look: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// CloudTrail's `eventTime` → the bot received the message, for the canary and every alert.
    detection_latency: Histogram,
    /// (received at, latency in seconds) over the last day, for `/health`'s median and 95th percentile.
    latencies: Mutex<VecDeque<(i64, f64)>>,
}

/// Messages someone wrote to the queue directly, since the first of a run of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgery {
    pub count: u64,
    /// The reason of the latest.
    pub reason: &'static str,
    /// SQS's `SenderId` of the latest.
    pub sender: String,
    pub first: i64,
    pub last: i64,
}

/// What happened to a queue message.
#[derive(Debug, Clone, Copy)]
pub enum Count {
    Received,
    NotAlert,
    Duplicate,
    DeadLettered,
}

/// The figures at one moment, for `/health` and `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub received: u64,
    pub posted: u64,
    pub duplicates: u64,
    pub dead_lettered: u64,
    pub not_alerts: u64,
    pub last_alert: i64,
    pub gateway_connected: bool,
    pub started: i64,
    pub last_heartbeat: i64,
    pub watchdog_last_run: i64,
    pub watchdog_problems: i64,
    pub last_canary: i64,
    pub poller_heartbeat: i64,
    pub delivery_failing_since: i64,
}

impl Metrics {
    pub fn new(has_gateway: bool) -> Metrics {
        let mut registry = Registry::with_prefix("iam_alarm");
        let m = Metrics {
            received: Counter::default(),
            posted: Counter::default(),
            duplicates: Counter::default(),
            dead_lettered: Counter::default(),
            not_alerts: Counter::default(),
            discord_errors: Family::default(),
            suppressed: Family::default(),
            last_alert: Gauge::default(),
            gateway_connected: Gauge::default(),
            started: Gauge::default(),
            last_heartbeat: Gauge::default(),
            watchdog_last_run: Gauge::default(),
            watchdog_problems: Gauge::default(),
            poller_heartbeat: AtomicI64::new(0),
            delivery_failing_since: AtomicI64::new(0),
            stopped_tasks: Mutex::new(Vec::new()),
            tasks_stopped: Family::default(),
            rejected: Family::default(),
            forgery: Mutex::new(None),
            unverifiable: Mutex::new((0, String::new())),
            last_canary: Gauge::default(),
            watchdog_look: Gauge::default(),
            detection_latency: Histogram::new(LATENCY_BUCKETS),
            latencies: Mutex::new(VecDeque::new()),
            registry: Registry::default(),
        };
        let counters = [
            &m.received,
            &m.posted,
            &m.duplicates,
            &m.dead_lettered,
            &m.not_alerts,
        ];
        for ((name, help), counter) in COUNTERS.into_iter().zip(counters) {
            registry.register(name, help, counter.clone());
        }
        let errors = "Discord delivery errors, by kind.";
        registry.register("discord_errors", errors, m.discord_errors.clone());
        let suppressed = "Events suppressed by an alert rule, by rule.";
        registry.register("suppressed", suppressed, m.suppressed.clone());
        let look = "How long the watchdog's last look at the pipeline took.";
        registry.register_with_unit(
            "watchdog_look",
            look,
            Unit::Seconds,
            m.watchdog_look.clone(),
        );
        let latency =
            "CloudTrail eventTime to the bot receiving the event, for the canary and every alert.";
        registry.register_with_unit(
            "detection_latency",
            latency,
            Unit::Seconds,
            m.detection_latency.clone(),
        );
        let rejected = "Queue messages not believed (not signed by SNS from our topic), by reason.";
        registry.register("rejected", rejected, m.rejected.clone());
        let stopped = "Background tasks that stopped before shutdown, by task.";
        registry.register("tasks_stopped", stopped, m.tasks_stopped.clone());
        let gauges = [
            &m.last_alert,
            &m.gateway_connected,
            &m.started,
            &m.last_heartbeat,
            &m.watchdog_last_run,
            &m.watchdog_problems,
            &m.last_canary,
        ];
        for ((name, help), gauge) in GAUGES.into_iter().zip(gauges) {
            registry.register(name, help, gauge.clone());
        }
        m.gateway_connected.set(i64::from(!has_gateway));
        m.started.set(now_unix());
        Metrics { registry, ..m }
    }

    /// One more message of this kind.
    pub fn count(&self, what: Count) {
        let counter = match what {
            Count::Received => &self.received,
            Count::NotAlert => &self.not_alerts,
            Count::Duplicate => &self.duplicates,
            Count::DeadLettered => &self.dead_lettered,
        };
        counter.inc();
    }

    /// A rule suppressed an event.
    pub fn suppressed(&self, rule: &str) {
        let labels = vec![("rule", rule.to_owned())];
        self.suppressed.get_or_create(&labels).inc();
    }

    /// Discord accepted a message naming `events` events.
    pub fn posted(&self, events: u64) {
        self.posted.inc_by(events);
        self.last_alert.set(now_unix());
    }

    pub fn set_gateway_connected(&self, up: bool) {
        self.gateway_connected.set(i64::from(up));
    }

    /// Discord did not accept a message.
    pub fn delivery_failed(&self, kind: &'static str) {
        self.discord_errors
            .get_or_create(&vec![("kind", kind)])
            .inc();
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

    /// A heartbeat arrived, sent at Unix time `at` (0: unknown, so now). Heartbeats replayed after an outage
    /// may come out of order: the newest counts.
    pub fn heartbeat(&self, at: i64) {
        keep_newest(&self.last_heartbeat, at);
    }

    /// The canary's call, made at Unix time `at` (CloudTrail's `eventTime`; 0: unknown, so now), reached the
    /// bot. The newest counts.
    pub fn canary(&self, at: i64) {
        keep_newest(&self.last_canary, at);
    }

    /// An event made at Unix time `made` (CloudTrail's `eventTime`) was received now.
    pub fn detected(&self, made: i64) {
        let now = now_unix();
        let latency = (now - made).max(0) as f64;
        self.detection_latency.observe(latency);
        let mut samples = self
            .latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        samples.push_back((now, latency));
        while samples
            .front()
            .is_some_and(|(at, _)| now - at > LATENCY_WINDOW_S)
            || samples.len() > LATENCY_SAMPLES_MAX
        {
            samples.pop_front();
        }
    }

    /// The median and 95th percentile of the detection latency over the last day, in seconds.
    pub fn latency_percentiles(&self) -> Option<(f64, f64)> {
        let now = now_unix();
        let samples = self
            .latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut day: Vec<f64> = samples
            .iter()
            .filter(|(at, _)| now - at <= LATENCY_WINDOW_S)
            .map(|(_, l)| *l)
            .collect();
        if day.is_empty() {
            return None;
        }
        day.sort_by(f64::total_cmp);
        let at = |p: f64| day[((day.len() - 1) as f64 * p).round() as usize];
        Some((at(0.5), at(0.95)))
    }

    /// The watchdog's look at the pipeline took this long.
    pub fn watchdog_looked(&self, took: Duration) {
        self.watchdog_look.set(took.as_secs_f64());
    }

    /// The watchdog looked; `problems` are announced and not recovered.
    pub fn watchdog_ran(&self, problems: usize) {
        self.watchdog_last_run.set(now_unix());
        self.watchdog_problems.set(problems as i64);
    }

    /// A queue message was not believed. A run of them is one forgery until `quiet` passes without one.
    pub fn rejected(&self, reason: &'static str, sender: &str) {
        self.rejected.get_or_create(&vec![("reason", reason)]).inc();
        let now = now_unix();
        let mut forgery = self
            .forgery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let run = forgery.get_or_insert(Forgery {
            count: 0,
            reason,
            sender: String::new(),
            first: now,
            last: now,
        });
        run.count += 1;
        run.reason = reason;
        sender.clone_into(&mut run.sender);
        run.last = now;
    }

    /// A message's signature could not be checked (its certificate could not be fetched): it waits.
    pub fn signature_unverifiable(&self, why: &str) {
        let mut u = self
            .unverifiable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        u.0 += 1;
        why.clone_into(&mut u.1);
    }

    /// A message's signature was checked and held.
    pub fn signature_checked(&self) {
        let mut u = self
            .unverifiable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *u = (0, String::new());
    }

    /// Messages whose signature could not be checked since the last that could, and the latest reason.
    pub fn signatures_unverifiable(&self) -> (u64, String) {
        self.unverifiable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Messages rejected since start, for every reason.
    pub fn rejected_total(&self) -> u64 {
        crate::sns::Rejected::ALL
            .into_iter()
            .map(|r| {
                self.rejected
                    .get_or_create(&vec![("reason", r.label())])
                    .get()
            })
            .sum()
    }

    /// The current run of rejected messages, if any; a run older than `quiet` is over and forgotten.
    pub fn forgery(&self, quiet: Duration) -> Option<Forgery> {
        let mut forgery = self
            .forgery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if forgery
            .as_ref()
            .is_some_and(|f| now_unix() - f.last > quiet.as_secs() as i64)
        {
            *forgery = None;
        }
        forgery.clone()
    }

    /// A background task ended before shutdown asked it to: `/healthz` is unhealthy from now on.
    pub fn task_stopped(&self, task: &'static str) {
        self.tasks_stopped
            .get_or_create(&vec![("task", task)])
            .inc();
        self.stopped_tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
    }

    /// The poller is alive.
    pub fn beat(&self) {
        self.poller_heartbeat.store(now_unix(), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            received: self.received.get(),
            posted: self.posted.get(),
            duplicates: self.duplicates.get(),
            dead_lettered: self.dead_lettered.get(),
            not_alerts: self.not_alerts.get(),
            last_alert: self.last_alert.get(),
            gateway_connected: self.gateway_connected.get() == 1,
            started: self.started.get(),
            last_heartbeat: self.last_heartbeat.get(),
            watchdog_last_run: self.watchdog_last_run.get(),
            watchdog_problems: self.watchdog_problems.get(),
            last_canary: self.last_canary.get(),
            poller_heartbeat: self.poller_heartbeat.load(Ordering::Relaxed),
            delivery_failing_since: self.delivery_failing_since.load(Ordering::Relaxed),
        }
    }

    /// What is wrong, if anything: a background task that stopped, a stale poller, a disconnected gateway, or
    /// delivery failing for longer than `delivery_unhealthy_after`.
    pub fn problem(
        &self,
        poller_stale_after: Duration,
        delivery_unhealthy_after: Duration,
    ) -> Option<String> {
        let stopped = self
            .stopped_tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .join(", ");
        if !stopped.is_empty() {
            return Some(format!("background task stopped: {stopped} (see the log)"));
        }
        let now = now_unix();
        let s = self.snapshot();
        if s.poller_heartbeat == 0 || now - s.poller_heartbeat > poller_stale_after.as_secs() as i64
        {
            return Some("the SQS poller has not turned recently".to_owned());
        }
        if !s.gateway_connected {
            return Some("the Discord gateway is not connected".to_owned());
        }
        let since = s.delivery_failing_since;
        if since > 0 && now - since >= delivery_unhealthy_after.as_secs() as i64 {
            return Some(format!(
                "Discord has not accepted an alert for {} s (see iam_alarm_discord_errors_total and the log)",
                now - since
            ));
        }
        None
    }

    /// The OpenMetrics text `/metrics` serves.
    pub fn prometheus(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_snapshot_and_the_exposition() {
        let m = Metrics::new(true);
        m.count(Count::Received);
        m.posted(3);
        m.suppressed("ci \"users\"");
        m.delivery_failed("rate_limited");
        m.heartbeat(1_700_000_000);
        m.heartbeat(1_600_000_000);
        let s = m.snapshot();
        assert_eq!((s.received, s.posted), (1, 3));
        assert!(!s.gateway_connected);
        let text = m.prometheus();
        for line in [
            "iam_alarm_messages_received_total 1",
            "iam_alarm_alerts_posted_total 3",
            "iam_alarm_discord_errors_total{kind=\"rate_limited\"} 1",
            "# TYPE iam_alarm_last_alert_timestamp_seconds gauge",
            "iam_alarm_gateway_connected 0",
            "iam_alarm_last_heartbeat_timestamp_seconds 1700000000",
            "iam_alarm_suppressed_total{rule=\"ci \\\"users\\\"\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
