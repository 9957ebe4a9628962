//! Console mode: alerts as readable text on stdout (the demo, dry runs).

use std::io::Write;

pub struct Console;

impl Console {
    pub fn print(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not crash the bot; the log still has the alert.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}
