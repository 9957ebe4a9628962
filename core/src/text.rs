//! Untrusted text made safe for Discord: Markdown escaped, mentions defused, control characters flattened,
//! lengths capped without splitting a character.
//!
//! Lengths are measured in UTF-16 code units: that is never less than the code-point count Discord checks,
//! so a value that fits here fits there.

/// The ellipsis that marks a cut.
pub const ELLIPSIS: char = '…';

/// The parts, joined in one allocation of the right size.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| s.push_str(p));
    s
}

/// Length as Discord's limits are checked (conservatively: UTF-16 code units).
pub fn discord_len(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    // Every byte but a continuation byte starts a character; a four-byte one (lead byte 0xF0 and up) is a
    // surrogate pair, two units.
    s.bytes()
        .map(|b| usize::from((b & 0xC0) != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

/// Cut `s` to at most `max` units, ending in "…" when anything was cut. Never splits a character.
pub fn truncate(s: &str, max: usize) -> String {
    // A UTF-8 byte count is never below the UTF-16 count, so short strings need no counting.
    if s.len() <= max {
        return s.to_owned();
    }
    capped(s.chars().map(Piece::Char), s.len(), max)
}

/// [`truncate`], keeping the string itself when it fits.
pub fn truncate_owned(s: String, max: usize) -> String {
    // A UTF-8 byte count is never below the UTF-16 count, so short strings need no counting.
    if s.len() <= max || discord_len(&s) <= max {
        s
    } else {
        truncate(&s, max)
    }
}

/// Escape one untrusted value for Markdown and cap it at `max` units ("…" marks a cut).
///
/// Every Markdown-significant ASCII character gets a backslash (Discord removes the backslash before any
/// punctuation), `@everyone`/`@here` get a zero-width joiner so they can never read as a mention, and control
/// characters (newlines included) become spaces so one value stays on one line. An escape sequence is
/// never split by the cap.
pub fn escape_capped(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 8);
    push_escaped(&mut out, s, max);
    out
}

/// [`escape_capped`], appended to `out` (the cap counts only what is appended).
pub fn push_escaped(out: &mut String, s: &str, max: usize) {
    let s = defuse_mass_mentions(s);
    if printable_ascii(&s) {
        // Copy the runs between escapes whole; each escaped character starts the next run.
        let start = out.len();
        let mut run = 0;
        for (i, b) in s.bytes().enumerate() {
            if (ESCAPED >> b) & 1 == 1 || (i == 0 && needs_escape(char::from(b), true)) {
                out.push_str(&s[run..i]);
                out.push('\\');
                run = i;
            }
        }
        out.push_str(&s[run..]);
        if out.len() - start <= max {
            return;
        }
        out.truncate(start);
    }
    push_capped(
        out,
        s.chars().enumerate().map(|(i, c)| escape_char(c, i == 0)),
        max,
    );
}

/// One character of output, or an escaped one (kept whole by the cap).
#[derive(Clone, Copy)]
enum Piece {
    Char(char),
    Escaped(char),
}

impl Piece {
    fn len(self) -> usize {
        match self {
            Piece::Char(c) => c.len_utf16(),
            Piece::Escaped(c) => 1 + c.len_utf16(),
        }
    }
}

/// A fresh string of `pieces`, capped as [`push_capped`] does. `size` is the expected length in bytes.
fn capped(pieces: impl Iterator<Item = Piece>, size: usize, max: usize) -> String {
    let mut out = String::with_capacity(size.min(max.saturating_mul(4)));
    push_capped(&mut out, pieces, max);
    out
}

/// Append `pieces` up to `max` units in one pass; when they don't all fit, cut back to the last whole piece
/// that leaves room for "…".
fn push_capped(out: &mut String, pieces: impl Iterator<Item = Piece>, max: usize) {
    let budget = max.saturating_sub(ELLIPSIS.len_utf16());
    let mut used = 0;
    // Where the output stood when it last fitted the budget (with room for the ellipsis).
    let mut cut = out.len();
    for piece in pieces {
        let n = piece.len();
        if used + n <= budget {
            cut = out.len() + piece_bytes(piece);
        }
        used += n;
        if used > max {
            out.truncate(cut);
            if max >= ELLIPSIS.len_utf16() {
                out.push(ELLIPSIS);
            }
            return;
        }
        match piece {
            Piece::Char(c) => out.push(c),
            Piece::Escaped(c) => {
                out.push('\\');
                out.push(c);
            }
        }
    }
}

fn piece_bytes(piece: Piece) -> usize {
    match piece {
        Piece::Char(c) => c.len_utf8(),
        Piece::Escaped(c) => 1 + c.len_utf8(),
    }
}

fn escape_char(c: char, at_start: bool) -> Piece {
    if needs_escape(c, at_start) {
        Piece::Escaped(c)
    } else if c.is_control() {
        Piece::Char(' ')
    } else {
        Piece::Char(c)
    }
}

/// The ASCII characters [`needs_escape`] escapes anywhere, as a bit set.
const ESCAPED: u128 = {
    let mut set = 0u128;
    let mut b = 0u8;
    while b < 128 {
        if needs_escape(b as char, false) {
            set |= 1 << b;
        }
        b += 1;
    }
    set
};

const fn needs_escape(c: char, at_start: bool) -> bool {
    match c {
        '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '[' | ']' | '(' | ')' => true,
        // Block syntax (quote, heading, list) only counts at the start of a line; values are one line.
        '>' | '#' | '-' | '+' => at_start,
        _ => false,
    }
}

/// ASCII without control characters: one byte is one unit and nothing needs flattening, so the common case
/// skips the per-character bookkeeping.
fn printable_ascii(s: &str) -> bool {
    // Without an early exit, so it runs many bytes at a time.
    s.bytes()
        .fold(true, |ok, b| ok & (b.wrapping_sub(0x20) < 0x5f))
}

/// `@everyone` and `@here` get a zero-width space after the `@`: they can never read as a mention, and
/// e-mail addresses elsewhere stay copyable. (`<@id>` forms are defused by escaping `<`.)
fn defuse_mass_mentions(s: &str) -> std::borrow::Cow<'_, str> {
    // Most values have no `@` at all: a scan without an early exit tells that fastest.
    if !s.bytes().fold(false, |at, b| at | (b == b'@')) {
        return s.into();
    }
    let mention = |at: usize| {
        let rest = &s[at + 1..];
        rest.starts_with("everyone") || rest.starts_with("here")
    };
    let Some(first) = s.match_indices('@').map(|(i, _)| i).find(|&i| mention(i)) else {
        return s.into();
    };
    let mut out = String::with_capacity(s.len() + 8);
    let mut run = 0;
    for (i, _) in s[first..].match_indices('@') {
        let at = first + i;
        if mention(at) {
            out.push_str(&s[run..=at]);
            out.push('\u{200B}');
            run = at + 1;
        }
    }
    out.push_str(&s[run..]);
    out.into()
}

/// Escape without a cap (for text that is capped as a whole later).
pub fn escape(s: &str) -> String {
    escape_capped(s, usize::MAX)
}

/// Flatten control characters, defuse mass mentions and cap, without Markdown escaping: for places Discord
/// shows as plain text (footers) and for the console.
pub fn plain_capped(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    push_plain(&mut out, s, max);
    out
}

/// [`plain_capped`], appended to `out` (the cap counts only what is appended).
pub fn push_plain(out: &mut String, s: &str, max: usize) {
    let s = defuse_mass_mentions(s);
    if s.len() <= max && printable_ascii(&s) {
        out.push_str(&s);
        return;
    }
    let flat = |c: char| Piece::Char(if c.is_control() { ' ' } else { c });
    push_capped(out, s.chars().map(flat), max);
}

/// Text for an inline code span: no Markdown or mention inside renders, so only backticks need care
/// (Discord has no escape inside a code span; they become a look-alike quote).
pub fn code_capped(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 2);
    push_code(&mut out, s, max);
    out
}

/// [`code_capped`], appended to `out` (the cap counts only what is appended).
pub fn push_code(out: &mut String, s: &str, max: usize) {
    let s = defuse_mass_mentions(s);
    let plain = s.bytes().fold(true, |ok, b| {
        ok & (b.wrapping_sub(0x20) < 0x5f) & (b != b'`')
    });
    if s.len() + 2 <= max && plain && !s.trim().is_empty() {
        out.push('`');
        out.push_str(&s);
        out.push('`');
        return;
    }
    let flat = |c: char| {
        Piece::Char(match c {
            '`' => '\u{2018}',
            c if c.is_control() => ' ',
            c => c,
        })
    };
    let start = out.len();
    out.push('`');
    push_capped(out, s.chars().map(flat), max.saturating_sub(2));
    if out[start + 1..].trim().is_empty() {
        out.truncate(start);
        out.push('\u{2014}');
    } else {
        out.push('`');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_short_text_and_marks_cuts() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(discord_len(&truncate("ééééé", 3)), 3);
    }

    #[test]
    fn truncate_never_splits_a_character() {
        let s = "😀😀😀"; // 2 UTF-16 units each
        let t = truncate(s, 4);
        assert_eq!(t, "😀…");
        assert!(discord_len(&t) <= 4);
    }

    #[test]
    fn escape_defuses_markdown_and_mentions() {
        assert_eq!(escape("**bold**"), "\\*\\*bold\\*\\*");
        assert_eq!(escape("@everyone"), "@\u{200B}everyone");
        assert_eq!(escape("<@123>"), "\\<@123>");
        assert_eq!(escape("alice@example.com"), "alice@example.com");
        assert_eq!(code_capped("@here", 20), "`@\u{200B}here`");
        assert_eq!(escape("a\nb"), "a b");
        assert_eq!(escape("[x](http://e)"), "\\[x\\]\\(http://e\\)");
        assert_eq!(escape("# big"), "\\# big");
        assert_eq!(escape("a#-b"), "a#-b");
        assert_eq!(
            escape("@@here x@everyone@heree @ @her"),
            "@@\u{200B}here x@\u{200B}everyone@\u{200B}heree @ @her"
        );
    }

    #[test]
    fn escape_capped_never_ends_inside_an_escape() {
        let s = "*".repeat(100);
        let t = escape_capped(&s, 10);
        assert!(discord_len(&t) <= 10, "{t}");
        assert!(t.ends_with('…'));
        assert!(!t.trim_end_matches('…').ends_with("\\\\"));
        assert_eq!(t.trim_end_matches('…').len() % 2, 0);
    }

    proptest::proptest! {
        #[test]
        fn mass_mentions_are_defused_like_replacing_each(s in "([@a-z]|here|everyone|é){0,24}") {
            let replaced = s
                .replace("@everyone", "@\u{200B}everyone")
                .replace("@here", "@\u{200B}here");
            proptest::prop_assert_eq!(defuse_mass_mentions(&s), replaced);
        }
    }

    #[test]
    fn escape_capped_keeps_values_that_fit() {
        assert_eq!(escape_capped("new-user", 100), "new-user");
    }
}
