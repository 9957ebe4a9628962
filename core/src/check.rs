//! One model of a pipeline check, shared by `/health` (every line) and the watchdog (the keyed ones).

/// One line of `/health`, and what the watchdog compares from one look to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub status: CheckStatus,
    pub what: String,
    /// How to fix it, for warnings and failures.
    pub hint: Option<String>,
    /// What it is about, stable across runs ("rule:eventbridge-iam-user-change"), for the checks the watchdog
    /// announces when they change; `None` for lines it ignores (figures).
    pub key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
    /// The check could not look (access denied, a timeout, any error): it says nothing about the pipeline, and
    /// too many in a row make the watchdog say it is blind.
    Unknown,
}

impl Check {
    pub fn ok(what: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Ok,
            what: what.into(),
            hint: None,
            key: None,
        }
    }
    pub fn warn(what: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Warn,
            what: what.into(),
            hint: Some(hint.into()),
            key: None,
        }
    }
    pub fn fail(what: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Fail,
            what: what.into(),
            hint: Some(hint.into()),
            key: None,
        }
    }
}

impl Check {
    /// A check that could not look at `what`, and why.
    pub fn unknown(what: impl Into<String>, why: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Unknown,
            what: what.into(),
            hint: Some(why.into()),
            key: None,
        }
    }

    /// The same check, known to the watchdog by `key`.
    pub fn about(mut self, key: impl Into<String>) -> Check {
        self.key = Some(key.into());
        self
    }
}

/// Looks at the pipeline in AWS: implemented with the SDK in the binary, used by `/health` and the watchdog.
#[async_trait::async_trait]
pub trait PipelineProbe: Send + Sync {
    /// Trail, rule, topic and queue checks, in pipeline order.
    async fn check_pipeline(&self) -> Vec<Check>;
}
