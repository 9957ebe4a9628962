//! Console mode: alerts as readable text on stdout (the demo, dry runs).

use std::io::Write;

use iam_alarm_core::render::{render_text, RenderOptions};
use iam_alarm_core::Event;

pub struct Console {
    pub options: RenderOptions,
}

impl Console {
    pub fn print(&self, event: &Event) {
        let text = render_text(event, &self.options);
        let mut out = std::io::stdout().lock();
        // A closed stdout must not crash the bot; the log still has the alert.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}
