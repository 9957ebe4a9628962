//! `iam-alarm dlq list|replay`: what is in the dead-letter queue and why, and moving alerts back.
//!
//! Valid alerts reach the DLQ only when Discord was unreachable for longer than the redrive allows (e.g. a long
//! outage across restarts). Once Discord works again, `replay` puts them back on the main queue; messages that
//! can never become alerts stay where they are.

use std::collections::HashSet;
use std::time::Duration;

use iam_alarm_core::render::headline;
use iam_alarm_core::{classify, Rejection, WatchedEvents};

use crate::aws::sqs::{Queue, Received};
use crate::aws::AwsError;

/// How long a listed message stays hidden: long enough to page through the queue once.
const LIST_VISIBILITY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("the queue has no dead-letter queue (no RedrivePolicy)")]
    NoDeadLetterQueue,
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// One line per message: id, receive count, what it is, why it is there.
pub fn describe(message: &Received, watched: &WatchedEvents) -> String {
    let what = match classify(&message.body, watched) {
        Ok(event) => format!("alert: {} (event {})", headline(&event), event.key),
        Err(Rejection::NotAlert(r)) => format!("not an alert: {r}"),
        Err(Rejection::Malformed(r)) => format!("malformed: {r}"),
    };
    let why = message.reason.clone().unwrap_or_else(|| {
        format!(
            "redriven by SQS after {} receives (Discord unreachable or the bot down)",
            message.receive_count
        )
    });
    iam_alarm_core::text::plain_capped(&format!("{}  {}  — {}", message.message_id, what, why), 600)
}

pub async fn list(
    main: &Queue,
    watched: &WatchedEvents,
    max: usize,
) -> Result<Vec<String>, DlqError> {
    let dlq = main
        .dead_letter_queue()
        .await?
        .ok_or(DlqError::NoDeadLetterQueue)?;
    let mut seen = HashSet::new();
    let mut listed = Vec::new();
    // Messages stay hidden while we page, so each receive brings new ones.
    while listed.len() < max {
        let fresh = next_unseen(&dlq, &mut seen).await?;
        if fresh.is_empty() {
            break;
        }
        listed.extend(fresh);
    }
    let mut lines = Vec::with_capacity(listed.len().min(max));
    for m in &listed {
        if lines.len() < max {
            lines.push(describe(m, watched));
        }
        // Listing must not hide messages from a replay right after.
        let _ = dlq.set_visibility(&m.receipt, Duration::ZERO).await;
    }
    Ok(lines)
}

/// Move every message that can become an alert or be handled by the bot — everything but the malformed —
/// back to the main queue, whatever `WATCHED_EVENTS` the operator's shell has (the bot decides what to show).
/// Returns (replayed, left). The malformed are handed back to the dead-letter queue at once, visible again.
pub async fn replay(main: &Queue) -> Result<(usize, usize), DlqError> {
    let dlq = main
        .dead_letter_queue()
        .await?
        .ok_or(DlqError::NoDeadLetterQueue)?;
    let mut seen = HashSet::new();
    let mut skipped: Vec<Received> = Vec::new();
    let mut replayed = 0;
    let result = async {
        let mut empty_receives = 0;
        // An empty receive can happen with messages left (SQS samples its servers); only two in a row end the
        // walk. A batch of messages already seen does not: it is skipped.
        while empty_receives < 2 {
            let batch = dlq
                .receive(10, Duration::from_secs(1), LIST_VISIBILITY)
                .await?;
            empty_receives = if batch.is_empty() {
                empty_receives + 1
            } else {
                0
            };
            for m in batch {
                if !seen.insert(m.message_id.clone()) {
                    continue;
                }
                if is_malformed(&m) {
                    skipped.push(m);
                    continue;
                }
                // Send first, then delete: a crash in between duplicates (de-duplication absorbs it), never loses.
                main.send(&m.body, None).await?;
                dlq.delete(&m.receipt).await?;
                replayed += 1;
            }
        }
        Ok::<(), DlqError>(())
    }
    .await;
    // Whatever happened, nothing skipped stays hidden.
    let receipts: Vec<&str> = skipped.iter().map(|m| m.receipt.as_str()).collect();
    for failed in dlq.set_visibility_many(&receipts, Duration::ZERO).await {
        eprintln!(
            "warning: cannot release {}: {}",
            skipped[failed.index].message_id, failed.error
        );
    }
    result.map(|()| (replayed, skipped.len()))
}

fn is_malformed(message: &Received) -> bool {
    matches!(
        classify(&message.body, &WatchedEvents::all()),
        Err(Rejection::Malformed(_))
    )
}

/// The next batch of messages not seen before in this walk through the queue (empty: walked it all).
async fn next_unseen(dlq: &Queue, seen: &mut HashSet<String>) -> Result<Vec<Received>, AwsError> {
    let batch = dlq
        .receive(10, Duration::from_secs(1), LIST_VISIBILITY)
        .await?;
    Ok(batch
        .into_iter()
        .filter(|m| seen.insert(m.message_id.clone()))
        .collect())
}

/// `iam-alarm dlq list|replay`, as the operator sees it: lines on stdout, errors on stderr.
pub async fn run(
    main: &Queue,
    action: crate::cli::DlqAction,
    watched: &WatchedEvents,
) -> std::process::ExitCode {
    let result = match action {
        crate::cli::DlqAction::List { max } => list(main, watched, max).await.map(|lines| {
            if lines.is_empty() {
                println!("the dead-letter queue is empty");
            }
            for l in lines {
                println!("{l}");
            }
        }),
        crate::cli::DlqAction::Replay => replay(main).await.map(|(moved, left)| {
            println!("replayed {moved} message(s) to the main queue; left {left} malformed message(s) in the dead-letter queue (`iam-alarm dlq list` says why)");
        }),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
