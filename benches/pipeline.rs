//! The benchmark behind `scripts/bench`: prints figures, asserts nothing. It drives the release binary through
//! the test kit the integration tests use (`spawn_app`, the fake Discord, moto), with production timings.
//!
//! (a) parse + render per message over the fixtures; (b) end-to-end latency from SQS send to the fake Discord
//! receiving the alert, 200 single events; (c) a 1,000-event burst against Discord's limits; (f) 300 events while
//! every Discord reply comes 0.6 s (then 1.2 s) late; (e) a 10,000-event burst (on the in-memory SQS: moto
//! can't carry that many): time, messages, memory and the bot's CPU time; (d) memory idle and start-up time.

// A benchmark that cannot set up has nothing to report: it unwraps.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_alarm_core::render::{render_message, RenderOptions};
use iam_alarm_core::{classify, WatchedEvents};

use iam_alarm_testkit::fake_discord::FakeDiscord;
use iam_alarm_testkit::helpers::{spawn_app, TestApp};
use iam_alarm_testkit::support::{self, burst_event};
use iam_alarm_testkit::{helpers, sqs_stub};

const ROUNDS: usize = 5;
/// What `burst_event` names its users: `burst-user-NNNN`.
const USER_PREFIX: &str = "burst-user-";
const USER_LEN: usize = USER_PREFIX.len() + 4;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (a) classify + render + the JSON body, per message, over every record we have (the corpus when present).
fn parse_and_render() {
    let mut bodies: Vec<String> = Vec::new();
    let corpus = support::corpus_path();
    if corpus.is_dir() {
        bodies.extend(support::corpus_records(&corpus).into_iter().map(|r| r.1));
    }
    let own = support::repo_root().join("tests/fixtures/records");
    for e in std::fs::read_dir(own).unwrap() {
        let record = std::fs::read_to_string(e.unwrap().path()).unwrap();
        bodies.push(support::sns(&support::eventbridge(&record, true)));
        bodies.push(record);
    }
    let all = WatchedEvents::all();
    let opts = RenderOptions::default();
    let run = |body: &str| {
        if let Ok(event) = classify(body, &all) {
            std::hint::black_box(serde_json::to_vec(&render_message(&event, &opts)).unwrap());
        }
    };
    bodies.iter().for_each(|b| run(b)); // warm-up, untimed
    let mut p99s = Vec::new();
    let mut all_times = Vec::new();
    for _ in 0..ROUNDS {
        let mut times = Vec::with_capacity(bodies.len() * 200);
        for _ in 0..200 {
            for body in &bodies {
                let t = Instant::now();
                run(body);
                times.push(t.elapsed());
            }
        }
        times.sort();
        p99s.push(percentile(&times, 0.99));
        all_times.extend(times);
    }
    all_times.sort();
    p99s.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "(a) parse + render: {} inputs x 200 x {ROUNDS} rounds: p50 {:.1} µs, p99 {:.1} µs (per round {:.1}–{:.1} µs)",
        bodies.len(),
        us(percentile(&all_times, 0.5)),
        us(percentile(&all_times, 0.99)),
        us(p99s[0]),
        us(p99s[ROUNDS - 1])
    );
}

/// A bot with production timings (the tests shorten them), ready: gateway up, commands registered. SQS is moto,
/// or the in-memory stub when given.
async fn bench_app(
    sqs: Option<&sqs_stub::SqsStub>,
    discord_setup: impl FnOnce(&FakeDiscord),
) -> (TestApp, Duration) {
    let mut app = match sqs {
        Some(stub) => helpers::spawn_app_with_sqs(&stub.url).await,
        None => spawn_app().await,
    };
    discord_setup(&app.discord);
    app.extra_env.extend(
        [
            ("SQS_WAIT_MS", "20000"),
            ("SNS_SIGNATURES", "off"),
            ("SQS_VISIBILITY_MS", "60000"),
            ("RETRY_BASE_MS", "500"),
            ("RETRY_MAX_MS", "30000"),
            ("RUST_LOG", "warn"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let t = Instant::now();
    app.start_bot_ready().await;
    (app, t.elapsed())
}

/// From `/proc/PID`: resident memory (KiB) and CPU time used (user + system).
fn process(pid: u32) -> (u64, Duration) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |s| s.1);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0);
    // Linux reports CPU time in clock ticks of 1/100 s (USER_HZ).
    (rss, Duration::from_millis(ticks * 10))
}

/// How many messages name each user of a burst.
fn naming(discord: &FakeDiscord) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in discord.messages() {
        let text = m.body.to_string();
        let mut named: Vec<&str> = text
            .match_indices(USER_PREFIX)
            .filter_map(|(i, _)| text.get(i..i + USER_LEN))
            .collect();
        named.sort_unstable();
        named.dedup();
        for user in named {
            *counts.entry(user.to_owned()).or_default() += 1;
        }
    }
    counts
}

struct Burst {
    /// How long sending the burst to the queue took (moto's ingest, while the bot consumes).
    sent: Duration,
    took: Duration,
    messages: usize,
    lost: usize,
    twice: usize,
    rate_limited: usize,
    peak_rss_kib: u64,
    cpu: Duration,
}

/// Send `n` events at once; wait until every user is named (at most `limit`); what it took.
async fn burst(app: &TestApp, n: usize, limit: Duration) -> Burst {
    let (users, bodies): (Vec<String>, Vec<String>) = (0..n).map(burst_event).unzip();
    let pid = app.bot_pid().expect("a running bot");
    let peak = Arc::new(AtomicU64::new(process(pid).0));
    let sampler = {
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                peak.fetch_max(process(pid).0, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let cpu_before = process(pid).1;
    let start = Instant::now();
    app.send_all(&bodies).await;
    let sent = start.elapsed();
    // Polled (a benchmark may sleep): gives up after `limit` and reports what arrived.
    while naming(&app.discord).len() < n && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = start.elapsed();
    let cpu = process(pid).1.saturating_sub(cpu_before);
    sampler.abort();
    let counts = naming(&app.discord);
    Burst {
        sent,
        took,
        messages: app.discord.messages().len(),
        lost: users.iter().filter(|u| !counts.contains_key(*u)).count(),
        twice: counts.values().filter(|c| **c > 1).count(),
        rate_limited: app.discord.rate_limited(),
        peak_rss_kib: peak.load(Ordering::Relaxed),
        cpu,
    }
}

async fn latency() -> (Duration, u64) {
    let (app, ready) = bench_app(None, |d| d.enforce_limits(false)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = process(app.bot_pid().unwrap()).0;
    let mut latencies = Vec::new();
    for n in 0..200 {
        let (_, body) = burst_event(n);
        let before = app.discord.messages().len();
        let t = Instant::now();
        app.send(&body).await;
        app.discord
            .wait_until("the alert", Duration::from_secs(30), |d| {
                d.messages().len() > before
            })
            .await;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    println!(
        "(b) end-to-end, SQS send → Discord: 200 single events: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[latencies.len() - 1])
    );
    (ready, idle_rss)
}

fn report(label: &str, b: &Burst) {
    println!(
        "{label} (sent in {:.1} s): every user named after {:.1} s, in {} messages, {} 429s, {} lost, {} named twice; peak RSS {:.1} MB, bot CPU {:.1} s",
        b.sent.as_secs_f64(),
        b.took.as_secs_f64(),
        b.messages,
        b.rate_limited,
        b.lost,
        b.twice,
        b.peak_rss_kib as f64 / 1024.0,
        b.cpu.as_secs_f64()
    );
}

fn main() {
    // The benchmark's moto reads its clock cheaply: stock moto fills a queue in quadratic time.
    std::env::set_var("MOTO_FAST_CLOCK", "1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "iam-alarm benchmark — {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name\t: ").map(str::to_owned))
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("machine: {cores} cores, {cpu}");
    parse_and_render();
    runtime.block_on(async {
        let (ready, idle_rss) = latency().await;
        let (app, _) = bench_app(None, |_| {}).await;
        report("(c) 1,000-event burst", &burst(&app, 1000, Duration::from_secs(120)).await);
        for delay in [600, 1200] {
            let slow = |d: &FakeDiscord| d.delay_replies(Duration::from_millis(delay));
            let (app, _) = bench_app(None, slow).await;
            let label = format!("(f) 300 events, Discord replies {delay} ms late");
            report(&label, &burst(&app, 300, Duration::from_secs(180)).await);
        }
        // moto walks every message on every call: 10,000 queued messages measure moto (sending them alone took
        // 43 s there), so this burst runs on the in-memory SQS that speaks the same protocol.
        let sqs = sqs_stub::SqsStub::start().await;
        let (app, _) = bench_app(Some(&sqs), |_| {}).await;
        let label = "(e) 10,000-event burst (in-memory SQS)";
        report(label, &burst(&app, 10_000, Duration::from_secs(300)).await);
        println!(
            "(d) resident memory idle {:.1} MB; ready (process start → gateway READY, commands registered, poller running) in {} ms",
            idle_rss as f64 / 1024.0,
            ready.as_millis()
        );
    });
}
