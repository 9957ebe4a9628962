//! A JSON object whose every value is a string, read in one tight pass: the SNS notification's fast path.
//!
//! An SNS notification carries the whole EventBridge event as one string, escaped, with a `\"` every few bytes;
//! the general reader spends more on that one string than on the event inside it. Everything this reader does
//! not take — another type of value anywhere, a control character, an odd escape, trailing text — makes it
//! answer `None`, and the caller reads the text the general way, so it decides nothing the general reader
//! wouldn't.

use std::borrow::Cow;

/// Hand each member of `text` to `member`, in order, when it is one JSON object of string values: `None` when
/// it is not, or as soon as `member` answers `None`.
pub fn for_each_member<'a>(
    text: &'a str,
    mut member: impl FnMut(Cow<'a, str>, Cow<'a, str>) -> Option<()>,
) -> Option<()> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    reader.skip_space();
    reader.expect(b'{')?;
    reader.skip_space();
    if reader.peek() == Some(b'}') {
        reader.at += 1;
    } else {
        loop {
            let key = reader.string()?;
            reader.skip_space();
            reader.expect(b':')?;
            reader.skip_space();
            member(key, reader.string()?)?;
            reader.skip_space();
            match reader.next()? {
                b',' => reader.skip_space(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    reader.skip_space();
    (reader.at == reader.bytes.len()).then_some(())
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string literal; borrowed when it holds no escape.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.at;
        self.at = special(self.bytes, self.at);
        match self.next()? {
            // Quotes and backslashes are ASCII, so the slices fall on character boundaries.
            b'"' => return Some(Cow::Borrowed(&self.text[start..self.at - 1])),
            b'\\' => {}
            _ => return None, // a control character
        }
        // An escape: the text is copied, run by run between escapes.
        let mut out = Vec::with_capacity(self.bytes.len() - start);
        out.extend_from_slice(&self.bytes[start..self.at - 1]);
        loop {
            self.escape(&mut out)?;
            let run = self.at;
            self.at = special(self.bytes, self.at);
            match self.bytes.get(run..run + SHORT) {
                // A short run (the common case between `\"`s) goes as one fixed-size copy, cut to length.
                Some(chunk) if self.at - run <= SHORT => {
                    let len = out.len() + self.at - run;
                    out.extend_from_slice(chunk);
                    out.truncate(len);
                }
                _ => out.extend_from_slice(&self.bytes[run..self.at]),
            }
            match self.next()? {
                b'"' => break,
                b'\\' => {}
                _ => return None,
            }
        }
        // Whole characters are copied and escapes add whole characters: always UTF-8.
        String::from_utf8(out).ok().map(Cow::Owned)
    }

    /// The escape after a backslash, written to `out`.
    fn escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let unescaped = match self.next()? {
            b @ (b'"' | b'\\' | b'/') => b,
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let unit = self.hex4()?;
                let c = match unit {
                    // A high surrogate must be followed by `\u` and a low one.
                    0xD800..=0xDBFF => {
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                    }
                    _ => u32::from(unit),
                };
                // A lone low surrogate is no character: refused here as the general reader refuses it.
                let c = char::from_u32(c)?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Some(());
            }
            _ => return None,
        };
        out.push(unescaped);
        Some(())
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        self.at += 4;
        digits.iter().try_fold(0u16, |n, &d| {
            Some(n << 4 | (d as char).to_digit(16)? as u16)
        })
    }
}

/// Runs of text up to this long are copied as one fixed-size block.
const SHORT: usize = 16;

/// The index of the first quote, backslash or control character at or after `from` (the length if none),
/// looked for eight bytes at a time.
fn special(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        // Each term flags (by the high bit) the bytes it looks for; a flag can spill only into later bytes,
        // so the first flag is always a real one.
        let found = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(ONES * 0x20) & !x))
            & (ONES << 7);
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes
        .get(i)
        .is_some_and(|&b| !matches!(b, b'"' | b'\\' | 0..=0x1F))
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(text: &str) -> Option<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        for_each_member(text, |k, v| {
            pairs.push((k.into_owned(), v.into_owned()));
            Some(())
        })?;
        Some(pairs)
    }

    #[test]
    fn reads_string_members_and_every_escape() {
        let text = r#" { "a" : "q\" b\\ s\/ \b\f\n\r\t é\u00e9 \ud83d\ude00" ,"":"", "a":"x"}
            "#;
        let expected = vec![
            ("a".into(), "q\" b\\ s/ \u{8}\u{c}\n\r\t éé 😀".into()),
            (String::new(), String::new()),
            ("a".into(), "x".into()),
        ];
        assert_eq!(pairs(text), Some(expected));
        assert_eq!(pairs("{}"), Some(vec![]));
        for_each_member(r#"{"k":"v"}"#, |_, v| {
            assert!(matches!(v, Cow::Borrowed("v")));
            Some(())
        })
        .unwrap();
        let mut seen = 0;
        assert_eq!(
            for_each_member(r#"{"a":"1","b":"2"}"#, |_, _| {
                seen += 1;
                None
            }),
            None
        );
        assert_eq!(seen, 1, "stops at the first member refused");
    }

    #[test]
    fn declines_everything_else() {
        for text in [
            "",
            "[]",
            r#""s""#,
            r#"{"a":1}"#,
            r#"{"a":"b","c":{}}"#,
            r#"{"a":"b",}"#,
            r#"{"a":"b"} x"#,
            r#"{"a":"b""#,
            r#"{"a" "b"}"#,
            "{\"a\":\"b\u{1}\"}",
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\ud83d"}"#,
            r#"{"a":"\ude00"}"#,
            r#"{"a":"\ud83d\u0041"}"#,
            r#"{"a":"b"}}"#,
        ] {
            assert_eq!(pairs(text), None, "{text}");
        }
    }

    /// A JSON string literal for `s`, with the characters picked by `escape` written as `\u` escapes.
    fn literal(s: &str, escape: &[bool]) -> String {
        let mut out = String::from("\"");
        for (i, c) in s.chars().enumerate() {
            if escape.get(i).copied().unwrap_or(false) {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            } else {
                let one = serde_json::to_string(&c.to_string()).unwrap();
                out.push_str(&one[1..one.len() - 1]);
            }
        }
        out.push('"');
        out
    }

    proptest! {
        #[test]
        fn reads_any_object_of_strings_as_written(
            members in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
            escape in proptest::collection::vec(any::<bool>(), 0..16),
            space in "[ \t\r\n]{0,2}",
        ) {
            let body = members
                .iter()
                .map(|(k, v)| format!("{space}{}{space}:{space}{}", literal(k, &escape), literal(v, &escape)))
                .collect::<Vec<_>>()
                .join(",");
            let text = format!("{space}{{{body}{space}}}{space}");
            prop_assert_eq!(pairs(&text), Some(members));
        }

        #[test]
        fn never_takes_what_the_general_reader_refuses(text in r#"[ {}":,a\\u0-9dDfF\x01é]{0,24}"#) {
            if pairs(&text).is_some() {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{}", text);
            }
        }
    }
}
