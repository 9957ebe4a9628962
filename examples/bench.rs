//! The benchmark behind `scripts/bench`: prints figures, asserts nothing.
//!
//! (a) parse + render cost per message over the fixture corpus; (b) end-to-end latency from SQS send to the fake
//! Discord receiving the alert, over 200 single events; (c) a 1,000-event burst against the fake Discord enforcing
//! 5 messages / 5 s per channel and 50 requests/s; (d) resident memory idle and at the burst's peak, and start-up
//! time to ready. moto and the fake Discord run on loopback; the bot is the release binary.

#![allow(dead_code)] // the shared test modules carry helpers this benchmark doesn't use

#[path = "../tests/it/fake_discord.rs"]
mod fake_discord;
#[path = "../tests/it/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use iam_alarm_core::render::{render_message, RenderOptions};
use iam_alarm_core::{classify, WatchedEvents};
use serde_json::{json, Value};

use fake_discord::FakeDiscord;

const CHANNEL: u64 = 111_111_111_111_111_111;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// (a) classify + render, per message, over every record we have (the corpus when present, and our own).
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
    // One untimed pass first: the first touch of each code path and allocation size is not the steady state.
    bodies.iter().for_each(|b| run(b));
    // Five rounds, each timing every input 200 times; the round with the median p99 is reported, so one burst
    // of noise from a shared host (a virtual machine's neighbours) neither makes nor breaks the figure.
    let mut rounds: Vec<(Duration, Duration)> = (0..ROUNDS)
        .map(|_| {
            let mut times = Vec::with_capacity(bodies.len() * 200);
            for _ in 0..200 {
                for body in &bodies {
                    let t = Instant::now();
                    run(body);
                    times.push(t.elapsed());
                }
            }
            times.sort();
            (percentile(&times, 0.5), percentile(&times, 0.99))
        })
        .collect();
    rounds.sort_by_key(|r| r.1);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (p50, p99) = rounds[ROUNDS / 2];
    println!(
        "(a) parse + render: {} inputs x 200, median of {ROUNDS} rounds: p50 {:.1} µs, p99 {:.1} µs (p99 over the rounds: {:.1}–{:.1} µs)",
        bodies.len(),
        us(p50),
        us(p99),
        us(rounds[0].1),
        us(rounds[ROUNDS - 1].1)
    );
}

const ROUNDS: usize = 5;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// moto_server with its per-message clock made cheap (see `scripts/moto_server_fast_clock.py`): stock moto takes
/// longer to fill a 1,000-message queue than the burst target allows, whatever the bot does.
fn start_moto() -> (Moto, String) {
    let root = support::repo_root();
    let port = free_port();
    let moto = Moto(
        Command::new(root.join(".venv/moto/bin/python"))
            .arg(root.join("scripts/moto_server_fast_clock.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (run scripts/tools moto)"),
    );
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (moto, format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto did not start");
}

struct Bot {
    child: Child,
    started: Instant,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bot {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

fn start_bot(moto: &str, queue: &str, discord: &FakeDiscord) -> Bot {
    let bin = std::env::var_os("IAM_ALARM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::repo_root().join("target/release/iam-alarm"));
    let started = Instant::now();
    let child = Command::new(bin)
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([
            ("AWS_ENDPOINT_URL", moto),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("SQS_QUEUE_URL", queue),
            ("DISCORD_TOKEN", fake_discord::TOKEN),
            ("DISCORD_API_URL", &discord.url()),
            ("DISCORD_GUILD_ID", "222222222222222222"),
            ("ALERT_CHANNEL_ID", &CHANNEL.to_string()),
            ("RUST_LOG", "warn"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the release binary (cargo build --release)");
    Bot { child, started }
}

fn event(n: usize) -> (String, String) {
    let path =
        support::repo_root().join("tests/fixtures/records/CreateUser-AssumedRole-session.json");
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let user = format!("bench-user-{n:05}");
    record["eventID"] = json!(format!("00000000-0000-4000-9000-{n:012}"));
    record["requestParameters"]["userName"] = json!(user);
    record["responseElements"]["user"]["userName"] = json!(user);
    (
        user,
        support::sns(&support::eventbridge(&record.to_string(), true)),
    )
}

async fn new_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "60")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "iam-alarm benchmark — {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| c
                .lines()
                .find_map(|l| l.strip_prefix("model name\t: ").map(str::to_owned)))
            .unwrap_or_default()
    );
    parse_and_render();

    let (_moto, moto) = start_moto();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);

    // (b) latency of single events, with the channel bucket off: the pipeline's own cost.
    let queue = new_queue(&sqs, "bench-latency").await;
    let discord = FakeDiscord::start().await;
    discord.enforce_limits(false);
    let bot = start_bot(&moto, &queue, &discord);
    discord
        .wait_until("ready", Duration::from_secs(30), |d| {
            d.command_registrations() > 0
        })
        .await;
    let ready = bot.started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = bot.rss_kib();
    let mut latencies = Vec::new();
    for n in 0..200 {
        let (_, body) = event(n);
        let before = discord.messages().len();
        let t = Instant::now();
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
        discord
            .wait_until("the alert", Duration::from_secs(30), |d| {
                d.messages().len() > before
            })
            .await;
        latencies.push(t.elapsed());
    }
    latencies.sort();
    println!(
        "(b) end-to-end, SQS send → Discord: 200 single events: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    drop(bot);

    // (c) a 1,000-event burst against Discord's real limits, and (d) memory.
    let queue = new_queue(&sqs, "bench-burst").await;
    let discord = FakeDiscord::start().await;
    let bot = start_bot(&moto, &queue, &discord);
    discord
        .wait_until("ready", Duration::from_secs(30), |d| {
            d.command_registrations() > 0
        })
        .await;
    let (users, bodies): (Vec<String>, Vec<String>) = (0..1000).map(event).unzip();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(bot.rss_kib()));
    let pid = bot.child.id();
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if let Some(kib) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                {
                    peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let start = Instant::now();
    for chunk in bodies.chunks(10) {
        let mut batch = sqs.send_message_batch().queue_url(&queue);
        for (i, body) in chunk.iter().enumerate() {
            batch = batch.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .unwrap(),
            );
        }
        batch.send().await.unwrap();
    }
    let sent = start.elapsed();
    let named = |d: &FakeDiscord| {
        let text: String = d.messages().iter().map(|m| m.body.to_string()).collect();
        users.iter().filter(|u| text.contains(u.as_str())).count()
    };
    discord
        .wait_until("every user named", Duration::from_secs(120), |d| {
            named(d) == users.len()
        })
        .await;
    let took = start.elapsed();
    sampler.abort();
    let named_count = named(&discord);
    println!(
        "(c) burst of 1,000 CreateUser (sent in {:.1} s): every user named after {:.1} s, in {} messages, {} 429s, {} events lost",
        sent.as_secs_f64(),
        took.as_secs_f64(),
        discord.messages().len(),
        discord.rate_limited(),
        users.len() - named_count
    );
    println!(
        "(d) resident memory: idle {:.1} MB, burst peak {:.1} MB; ready (process start → gateway READY, commands registered, poller running) in {} ms",
        idle_rss as f64 / 1024.0,
        peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0,
        ready.as_millis()
    );
    drop(bot);
}
