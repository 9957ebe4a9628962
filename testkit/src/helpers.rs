//! `spawn_app()`: moto_server (real AWS APIs over HTTP), a fake Discord, a fresh queue pair, and the real
//! `iam-alarm` binary pointed at them.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};

use crate::fake_discord::{FakeDiscord, TOKEN};
use crate::support::repo_root;

pub const CHANNEL_ID: u64 = 111_111_111_111_111_111;
pub const GUILD_ID: u64 = 222_222_222_222_222_222;

/// One moto_server for the whole test binary. It stops when the test process exits: its wrapper shell
/// waits on our stdin pipe, which the OS closes at exit.
pub struct Moto {
    pub url: String,
    _stdin: ChildStdin,
    _wrapper: Child,
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start(""))
}

/// A second moto_server that knows the AWS managed policies (`AWSCompromisedKeyQuarantineV3`, which a quarantine
/// attaches): for the containment tests only, since loading them costs about a second for every account moto
/// meets, and the Organization tests meet hundreds.
pub fn moto_with_managed_policies() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start("MOTO_IAM_LOAD_MANAGED_POLICIES=true"))
}

impl Moto {
    fn start(env: &str) -> Moto {
        let port = free_port();
        let script = format!(
            "{env} {} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; read _; kill $pid",
            moto_server_command()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Moto {
                    url,
                    _stdin: child.stdin.take().unwrap(),
                    _wrapper: child,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto_server did not start on port {port}");
    }
}

/// The shell words that start moto_server. With `MOTO_FAST_CLOCK=1` (the benchmark), moto's per-message clock
/// is made cheap (see `scripts/moto_server_fast_clock.py`): stock moto fills a queue in quadratic time.
fn moto_server_command() -> String {
    if std::env::var_os("MOTO_FAST_CLOCK").is_some_and(|v| v == "1") {
        let root = repo_root();
        let python = root.join(".venv/moto/bin/python");
        let script = root.join("scripts/moto_server_fast_clock.py");
        return format!("\"{}\" \"{}\"", python.display(), script.display());
    }
    format!("\"{}\"", moto_server_path().display())
}

fn moto_server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return p.into();
    }
    let venv = repo_root().join(".venv/moto/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("moto_server"))
                .find(|p| p.exists())
        })
        .expect("moto_server not found: run scripts/test, which installs it into .venv")
}

/// The `iam-alarm` binary Cargo built beside the running test or benchmark (`target/<profile>/`), as
/// `assert_cmd` finds it; `IAM_ALARM_BIN` overrides.
pub fn bot_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("IAM_ALARM_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/iam-alarm
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join(format!("iam-alarm{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with cargo test",
        bin.display()
    );
    bin
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// What the bot sees and what the test controls.
pub struct TestApp {
    pub discord: FakeDiscord,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub health_port: u16,
    pub extra_env: Vec<(String, String)>,
    /// Where SQS is served when not by moto.
    sqs_endpoint: Option<String>,
    bot: Option<Bot>,
    state_dir: tempfile::TempDir,
}

pub struct Bot {
    pub child: Child,
    log: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(bot) = &mut self.bot {
            let _ = bot.child.kill();
            let _ = bot.child.wait();
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(None).await
}

/// [`spawn_app`] with SQS served at `endpoint` (the in-memory stub, for bursts moto can't carry); every other
/// service stays on moto.
pub async fn spawn_app_with_sqs(endpoint: &str) -> TestApp {
    spawn_app_on(Some(endpoint)).await
}

async fn spawn_app_on(sqs_endpoint: Option<&str>) -> TestApp {
    let moto = moto();
    let config = sdk_config(sqs_endpoint.unwrap_or(&moto.url)).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = format!("iam-alarm-{}", uuid_like());
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = queue_arn(&sqs, &dlq_url).await;
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}).to_string();
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = queue_arn(&sqs, &queue_url).await;
    TestApp {
        discord: FakeDiscord::start().await,
        sqs,
        queue_url,
        queue_arn,
        dlq_url,
        health_port: free_port(),
        extra_env: Vec::new(),
        sqs_endpoint: sqs_endpoint.map(str::to_owned),
        bot: None,
        state_dir: tempfile::tempdir().unwrap(),
    }
}

fn uuid_like() -> String {
    format!("{:016x}", fastrand_u64())
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

impl TestApp {
    /// The environment of a bot process in bot mode, pointed at moto and the fake Discord.
    pub fn bot_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("AWS_ENDPOINT_URL", moto().url.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("SQS_QUEUE_URL", self.queue_url.as_str()),
            // moto signs nothing real; the tests of signatures turn verification on with their own certificate.
            ("SNS_SIGNATURES", "off"),
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_URL", &self.discord.url()),
            ("DISCORD_GUILD_ID", &GUILD_ID.to_string()),
            ("ALERT_CHANNEL_ID", &CHANNEL_ID.to_string()),
            ("HEALTH_ADDR", &format!("127.0.0.1:{}", self.health_port)),
            ("SQS_WAIT_MS", "1000"),
            ("SQS_VISIBILITY_MS", "2000"),
            ("RETRY_BASE_MS", "50"),
            ("RETRY_MAX_MS", "400"),
            (
                "IAM_ALARM_STATE_DIR",
                &self.state_dir.path().to_string_lossy(),
            ),
            ("RUST_LOG", "info"),
            // Tests that want the watchdog set it; elsewhere its findings about moto would be noise.
            ("WATCHDOG_INTERVAL_S", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some(sqs) = &self.sqs_endpoint {
            env.push(("AWS_ENDPOINT_URL_SQS".to_owned(), sqs.clone()));
        }
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// A file in the bot's own temporary directory (a rules or people file, say), removed with the app.
    pub fn write_file(&self, name: &str, text: &str) -> String {
        let path = self.state_dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Start the real binary (`iam-alarm run`); its log goes to a file shown when a test fails.
    pub fn start_bot(&mut self) {
        let log = self
            .state_dir
            .path()
            .join(format!("bot-{}.log", fastrand_u64()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bot_binary())
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.state_dir.path())
            .envs(self.bot_env())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start iam-alarm");
        self.bot = Some(Bot { child, log });
    }

    /// Start the bot and wait until it is connected and its commands are registered.
    pub async fn start_bot_ready(&mut self) {
        let before = self.discord.command_registrations();
        self.start_bot();
        self.discord
            .wait_until(
                "bot ready (commands registered)",
                Duration::from_secs(30),
                |d| d.command_registrations() > before,
            )
            .await;
    }

    pub fn bot_log(&self) -> String {
        let mut s = String::new();
        if let Some(bot) = &self.bot {
            let _ = std::fs::File::open(&bot.log).and_then(|mut f| f.read_to_string(&mut s));
        }
        s
    }

    pub fn kill_bot(&mut self) {
        let mut bot = self.bot.take().expect("a running bot");
        bot.child.kill().unwrap();
        bot.child.wait().unwrap();
    }

    /// The bot's exit status, waiting at most `limit` for it to stop by itself.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> Option<i32> {
        let bot = self.bot.as_mut().expect("a running bot");
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = bot.child.try_wait().unwrap() {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then the exit status (waits at most `limit`).
    pub async fn terminate_bot(&mut self, limit: Duration) -> Option<i32> {
        let pid = self
            .bot
            .as_ref()
            .expect("a running bot")
            .child
            .id()
            .to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.wait_for_exit(limit).await
    }

    /// Send many bodies, ten per `SendMessageBatch`.
    pub async fn send_all(&self, bodies: &[String]) {
        for chunk in bodies.chunks(10) {
            let mut batch = self.sqs.send_message_batch().queue_url(&self.queue_url);
            for (i, body) in chunk.iter().enumerate() {
                let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .unwrap();
                batch = batch.entries(entry);
            }
            batch.send().await.unwrap();
        }
    }

    /// The running bot's process id.
    pub fn bot_pid(&self) -> Option<u32> {
        self.bot.as_ref().map(|b| b.child.id())
    }

    pub async fn send(&self, body: &str) {
        self.send_to(&self.queue_url, body).await;
    }

    /// Send one body to a queue of this app (the main queue or its dead-letter queue).
    pub async fn send_to(&self, queue_url: &str, body: &str) {
        self.sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// (visible, in flight) messages of a queue.
    pub async fn depth(&self, url: &str) -> (u64, u64) {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let n = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
        (
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Wait until a queue holds exactly `visible` visible and `in_flight` hidden messages.
    pub async fn wait_for_depth(&self, url: &str, visible: u64, in_flight: u64, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let d = self.depth(url).await;
            if d == (visible, in_flight) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "queue {url} is at {d:?}, expected {:?}\n--- bot log ---\n{}",
                (visible, in_flight),
                self.bot_log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("http://127.0.0.1:{}{path}", self.health_port))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// An event bus of this test's own (tests run in parallel on one moto) with a rule using `pattern` that
    /// targets this app's queue. Returns the bus name.
    pub async fn rule_to_queue(&self, pattern: &str) -> String {
        let bus = format!("bus-{}", uuid_like());
        self.events("CreateEventBus", json!({ "Name": bus })).await;
        self.events(
            "PutRule",
            json!({"Name": "iam-user-change", "EventBusName": bus, "EventPattern": pattern, "State": "ENABLED"}),
        )
        .await;
        self.events(
            "PutTargets",
            json!({"Rule": "iam-user-change", "EventBusName": bus, "Targets": [{"Id": "queue", "Arn": self.queue_arn}]}),
        )
        .await;
        bus
    }

    /// Call moto's EventBridge API (JSON protocol; moto does not check signatures).
    pub async fn events(&self, action: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(&moto().url)
            .header("X-Amz-Target", format!("AWSEvents.{action}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "EventBridge {action}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// Names of one test's pipeline in moto (tests share one moto server).
pub struct Pipeline {
    pub trail: String,
    pub rule: String,
    pub tamper_rule: String,
    /// The alert topic both rules target.
    pub topic: String,
}

impl TestApp {
    /// Build a healthy pipeline of this app's own in moto — trail, both rules, topic with the queue and an
    /// e-mail subscribed — and point the bot's probes at it.
    pub async fn healthy_pipeline(&mut self) -> Pipeline {
        let app = self;
        let id = app.queue_url.rsplit('-').next().unwrap().to_owned();
        let (bucket, trail) = (format!("trail-bucket-{id}"), format!("trail-{id}"));
        let (rule, tamper) = (format!("user-change-{id}"), format!("tamper-{id}"));
        let config = sdk_config(&moto().url).await;
        let put = reqwest::Client::new()
            .put(format!("{}/{bucket}", moto().url))
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "create bucket: {}", put.status());
        let cloudtrail = aws_sdk_cloudtrail::Client::new(&config);
        cloudtrail
            .create_trail()
            .name(&trail)
            .s3_bucket_name(&bucket)
            .is_multi_region_trail(true)
            .send()
            .await
            .unwrap();
        cloudtrail
            .start_logging()
            .name(&trail)
            .send()
            .await
            .unwrap();
        let sns_client = aws_sdk_sns::Client::new(&config);
        let topic = sns_client
            .create_topic()
            .name(format!("topic-{id}"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        for (protocol, endpoint) in [
            ("sqs", app.queue_arn.as_str()),
            ("email", "oncall@example.com"),
        ] {
            sns_client
                .subscribe()
                .topic_arn(&topic)
                .protocol(protocol)
                .endpoint(endpoint)
                .send()
                .await
                .unwrap();
        }
        let queue = app.queue_url.rsplit('/').next().unwrap().to_owned();
        let tamper_pattern = crate::support::tamper_pattern(&crate::support::PipelineNames {
            account: "123456789012",
            trail: &trail,
            user_change_rule: &rule,
            tamper_rule: &tamper,
            topic_arn: &topic,
            queue: &queue,
            dlq: &format!("{queue}-dlq"),
            key_id: "no-key",
            bucket: &bucket,
        });
        let patterns = [
            (&rule, include_str!("../../deploy/event-pattern.json")),
            (&tamper, tamper_pattern.as_str()),
        ];
        for (name, pattern) in patterns {
            app.events(
                "PutRule",
                json!({"Name": name, "EventPattern": pattern, "State": "ENABLED"}),
            )
            .await;
            app.events(
                "PutTargets",
                json!({"Rule": name, "Targets": [{"Id": "topic", "Arn": topic}]}),
            )
            .await;
        }
        app.extra_env.extend(
            [
                ("TRAIL_NAME", trail.as_str()),
                ("EVENT_RULE_NAME", rule.as_str()),
                ("TAMPER_RULE_NAME", tamper.as_str()),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Pipeline {
            trail,
            rule,
            tamper_rule: tamper,
            topic,
        }
    }
}
