//! Untrusted text made safe for Discord: Markdown escaped, mentions and links defused, control characters
//! flattened, invisible Unicode format characters shown by name, lengths capped without splitting a character
//! or an escape, and never blank.
//!
//! Lengths are measured in UTF-16 code units: that is never less than the code-point count Discord checks,
//! so a value that fits here fits there.

/// The ellipsis that marks a cut.
pub const ELLIPSIS: char = '…';

/// What a value that would otherwise be blank shows (Discord refuses blank field values and titles).
pub const BLANK: &str = "—";

/// The parts, joined.
pub fn concat(parts: &[&str]) -> String {
    parts.concat()
}

/// Length as Discord's limits are checked (conservatively: UTF-16 code units).
pub fn discord_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// One unit of output that a cap never splits: a character, an escaped character, or the visible name of an
/// invisible one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Char(char),
    /// A backslash and the character.
    Escaped(char),
    /// An invisible format character, shown as `‹U+202E›`.
    Named(char),
}

impl Piece {
    fn push_to(self, out: &mut String) {
        match self {
            Piece::Char(c) => out.push(c),
            Piece::Escaped(c) => {
                out.push('\\');
                out.push(c);
            }
            Piece::Named(c) => out.push_str(&format!("‹U+{:04X}›", u32::from(c))),
        }
    }

    fn len(self) -> usize {
        match self {
            Piece::Char(c) => c.len_utf16(),
            Piece::Escaped(c) => 1 + c.len_utf16(),
            // "‹U+" + at least four hex digits + "›"
            Piece::Named(c) => 4 + format!("{:04X}", u32::from(c)).len(),
        }
    }
}

/// Characters that change how text around them reads without being seen: Unicode's default-ignorable code
/// points — bidirectional controls (a user name can be made to read backwards), zero-width characters and
/// fillers (two names that look the same, or a name that looks empty), variation selectors, tag characters
/// (invisible text) — and the interlinear annotation controls. Shown by name, never passed through.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                    // soft hyphen
        | '\u{034F}'                  // combining grapheme joiner
        | '\u{061C}'                  // Arabic letter mark
        | '\u{115F}'..='\u{1160}'     // Hangul choseong and jungseong fillers
        | '\u{17B4}'..='\u{17B5}'     // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'     // Mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}'     // zero-width space, (non-)joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}'     // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'     // word joiner, invisible operators, bidi isolates, deprecated formats
        | '\u{3164}'                  // Hangul filler
        | '\u{FE00}'..='\u{FE0E}'     // variation selectors (U+FE0F, emoji presentation, is harmless: emoji use it)
        | '\u{FEFF}'                  // zero-width no-break space (BOM)
        | '\u{FFA0}'                  // halfwidth Hangul filler
        | '\u{FFF0}'..='\u{FFFB}'     // unassigned specials and interlinear annotation
        | '\u{1BCA0}'..='\u{1BCA3}'   // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}'   // musical symbol format controls
        | '\u{E0000}'..='\u{E0FFF}'   // tag characters and variation selectors supplement
    )
}

/// The character as it may be shown at all: control characters and Unicode's line and paragraph separators
/// (which Discord breaks lines at too) become a space, so one value stays on one line and no block syntax can
/// start after them; invisible format characters are named.
fn visible(c: char) -> Piece {
    if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
        Piece::Char(' ')
    } else if is_invisible_format(c) {
        Piece::Named(c)
    } else {
        Piece::Char(c)
    }
}

/// Markdown-significant anywhere in a line.
fn markdown_inline(c: char) -> bool {
    matches!(
        c,
        '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '[' | ']' | '(' | ')'
    )
}

/// Markdown for untrusted text: every piece of the value, escaped.
fn escaped_pieces(s: &str) -> Vec<Piece> {
    let chars: Vec<char> = s.chars().collect();
    let mut pieces = Vec::with_capacity(chars.len());
    // Block syntax (quote, heading, list) counts at the start of a line, after any spaces: as long as only
    // blanks were seen, `>`, `#`, `-`, `+` and `N.` are escaped.
    let mut line_start = true;
    let mut only_digits = true;
    for (i, &c) in chars.iter().enumerate() {
        let rest = &chars[i + 1..];
        let piece = match visible(c) {
            Piece::Char(c) if markdown_inline(c) => Piece::Escaped(c),
            Piece::Char(c @ ('>' | '#' | '-' | '+')) if line_start => Piece::Escaped(c),
            Piece::Char('.') if only_digits && !line_start => Piece::Escaped('.'),
            // `@everyone` / `@here` never read as a mention.
            Piece::Char('@') if starts_with(rest, "everyone") || starts_with(rest, "here") => {
                Piece::Escaped('@')
            }
            // `scheme://` never becomes a clickable link.
            Piece::Char(':') if starts_with(rest, "//") => Piece::Escaped(':'),
            other => other,
        };
        let blank = matches!(piece, Piece::Char(c) if c.is_whitespace());
        only_digits &= blank || c.is_ascii_digit();
        line_start &= blank;
        pieces.push(piece);
    }
    pieces
}

fn starts_with(chars: &[char], word: &str) -> bool {
    let mut chars = chars.iter();
    word.chars().all(|w| chars.next() == Some(&w))
}

/// The pieces, capped at `max` units: when they don't all fit, as many whole pieces as leave room for "…".
/// A result that would be blank is [`BLANK`].
fn join_capped(pieces: &[Piece], max: usize) -> String {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let budget = if total <= max {
        max
    } else {
        max.saturating_sub(ELLIPSIS.len_utf16())
    };
    let mut out = String::new();
    let mut used = 0;
    for piece in pieces {
        if used + piece.len() > budget {
            break;
        }
        used += piece.len();
        piece.push_to(&mut out);
    }
    if total > max && max >= ELLIPSIS.len_utf16() {
        out.push(ELLIPSIS);
    }
    if out.trim().is_empty() && max >= BLANK.len() {
        return BLANK.to_owned();
    }
    out
}

/// Escape one untrusted value for Markdown and cap it at `max` units ("…" marks a cut; never blank).
///
/// Every Markdown-significant character gets a backslash (Discord drops the backslash before punctuation);
/// block syntax is escaped at the start even behind spaces; `@everyone`/`@here` and `scheme://` are escaped
/// so they neither mention nor link; control characters become spaces; invisible format characters are named.
pub fn escape_capped(s: &str, max: usize) -> String {
    join_capped(&escaped_pieces(s), max)
}

/// Escape without a cap (for text that is capped as a whole later).
pub fn escape(s: &str) -> String {
    escape_capped(s, usize::MAX)
}

/// Flatten control characters, name invisible ones and cap, without Markdown escaping: for places Discord
/// shows as plain text (footers) and for the console and logs.
pub fn plain_capped(s: &str, max: usize) -> String {
    let pieces: Vec<Piece> = s.chars().map(visible).collect();
    join_capped(&pieces, max)
}

/// Text for an inline code span (at most `max` units with its backticks). Nothing inside a code span renders
/// as Markdown, a mention or a link, so only backticks need care: Discord has no escape inside a code span, so
/// they become a look-alike quote. A blank value is [`BLANK`], without backticks.
pub fn code_capped(s: &str, max: usize) -> String {
    let pieces: Vec<Piece> = s
        .chars()
        .map(|c| match visible(c) {
            Piece::Char('`') => Piece::Char('\u{2018}'),
            other => other,
        })
        .collect();
    let inner = join_capped(&pieces, max.saturating_sub(2));
    if inner == BLANK {
        inner
    } else {
        format!("`{inner}`")
    }
}

/// Cut `s` to at most `max` units, ending in "…" when anything was cut. Never splits a character.
pub fn truncate(s: &str, max: usize) -> String {
    if discord_len(s) <= max {
        return s.to_owned();
    }
    let budget = max.saturating_sub(ELLIPSIS.len_utf16());
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if max >= ELLIPSIS.len_utf16() {
        out.push(ELLIPSIS);
    }
    out
}

/// A duration in words a responder reads at a glance: "45 s", "12 min", "3 h", "2 days".
pub fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invisible_is_named_and_separators_end_no_line() {
        for c in [
            '\u{3164}',
            '\u{115F}',
            '\u{1160}',
            '\u{FFA0}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{034F}',
            '\u{FE0E}',
            '\u{206A}',
        ] {
            let shown = escape_capped(&format!("a{c}b"), 100);
            assert_eq!(shown, format!("a‹U+{:04X}›b", u32::from(c)), "{c:?}");
        }
        for sep in ['\u{2028}', '\u{2029}'] {
            // One line: `#` and `>` in the middle of a line are plain text to Discord.
            let shown = escape_capped(&format!("alice{sep}# not a heading{sep}> nor a quote"), 100);
            assert_eq!(shown, "alice # not a heading > nor a quote");
            assert!(!shown.contains(sep));
        }
    }

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
    fn escape_defuses_markdown_mentions_and_links() {
        assert_eq!(escape("**bold**"), "\\*\\*bold\\*\\*");
        assert_eq!(escape("@everyone"), "\\@everyone");
        assert_eq!(escape("<@123>"), "\\<@123>");
        assert_eq!(escape("alice@example.com"), "alice@example.com");
        assert_eq!(code_capped("@here", 20), "`@here`");
        assert_eq!(escape("a\nb"), "a b");
        assert_eq!(escape("[x](http://e)"), "\\[x\\]\\(http\\://e\\)");
        assert_eq!(
            escape("see https://evil.example/x"),
            "see https\\://evil.example/x"
        );
        assert_eq!(escape("a#-b"), "a#-b");
        assert_eq!(escape("x@heree"), "x\\@heree");
    }

    #[test]
    fn block_syntax_is_escaped_at_the_start_even_behind_spaces_or_control_characters() {
        assert_eq!(escape("# big"), "\\# big");
        assert_eq!(escape(" # heading"), " \\# heading");
        assert_eq!(escape("\u{1} > quote"), "  \\> quote");
        assert_eq!(escape("\t- item"), " \\- item");
        assert_eq!(escape("  + item"), "  \\+ item");
        assert_eq!(escape(" 1. item"), " 1\\. item");
        assert_eq!(escape("new-user"), "new-user");
        assert_eq!(escape("v1.2"), "v1.2");
    }

    #[test]
    fn invisible_format_characters_are_named_never_passed_through() {
        let s = "admin\u{202E}resu\u{200B}x\u{FEFF}";
        for out in [escape(s), plain_capped(s, 100), code_capped(s, 100)] {
            assert!(
                !out.chars().any(is_invisible_format),
                "{out:?} holds a raw format character"
            );
            assert!(
                out.contains("‹U+202E›") && out.contains("‹U+200B›"),
                "{out}"
            );
        }
    }

    #[test]
    fn blank_values_become_a_dash() {
        for s in ["", "   ", "\u{1}\u{2}\u{7f}", "\n\t"] {
            assert_eq!(escape_capped(s, 100), BLANK, "{s:?}");
            assert_eq!(plain_capped(s, 100), BLANK, "{s:?}");
            assert_eq!(code_capped(s, 100), BLANK, "{s:?}");
        }
    }

    #[test]
    fn escape_capped_never_ends_inside_an_escape() {
        let s = "*".repeat(100);
        let t = escape_capped(&s, 10);
        assert!(discord_len(&t) <= 10, "{t}");
        assert!(t.ends_with('…'));
        assert_eq!(t.trim_end_matches('…').len() % 2, 0);
        let named = "\u{202E}".repeat(10);
        let t = escape_capped(&named, 12);
        assert_eq!(t, "‹U+202E›…");
    }

    #[test]
    fn escape_capped_keeps_values_that_fit() {
        assert_eq!(escape_capped("new-user", 100), "new-user");
        assert_eq!(code_capped("AKIA123", 9), "`AKIA123`");
        assert_eq!(code_capped("AKIA1234", 9), "`AKIA12…`");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_capped_never_blank_and_holds_no_raw_format_character(s in "\\PC{0,60}|[\\x00-\\x20\u{200B}\u{202E}#>*@]{0,20}", max in 4usize..80) {
            for out in [escape_capped(&s, max), plain_capped(&s, max), code_capped(&s, max)] {
                proptest::prop_assert!(discord_len(&out) <= max, "{:?} > {}", out, max);
                proptest::prop_assert!(!out.trim().is_empty());
                proptest::prop_assert!(!out.chars().any(|c| is_invisible_format(c) || c.is_control()));
            }
        }
    }
}
