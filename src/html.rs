//! `iam-alarm render --html`: one self-contained page that draws a message as Discord shows it (dark theme: the
//! colour bar, title, fields in a grid, footer, buttons; mentions highlighted; `<t:…>` timestamps in the viewer's
//! own zone), so a team can see an alert before anyone installs the bot.

use std::fmt::Write as _;

use iam_alarm_core::message::{Button, ButtonStyle, CreateMessage, Embed};
use maud::{html, Escaper, Markup, PreEscaped, DOCTYPE};

/// The page for `messages`, shown one under the other as in a channel.
pub fn page(title: &str, messages: &[CreateMessage]) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                div.channel { @for m in messages { (message(m)) } }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

const STYLE: &str = "
body{margin:0;background:#313338;color:#dbdee1;font:16px/1.375 'gg sans','Noto Sans','Helvetica Neue',Helvetica,Arial,sans-serif}
.channel{max-width:760px;padding:16px}
.message{display:flex;gap:16px;margin:0 0 18px}
.avatar{width:40px;height:40px;border-radius:50%;background:#5865f2;flex:none;display:flex;align-items:center;justify-content:center;color:#fff;font-weight:700}
.name{color:#f2f3f5;font-weight:600}.tag{background:#5865f2;color:#fff;font-size:10px;border-radius:3px;padding:1px 4px;margin-left:4px;vertical-align:2px}
.content{white-space:pre-wrap;word-wrap:break-word}
.embed{display:grid;max-width:520px;margin-top:4px;background:#2b2d31;border-left:4px solid #1e1f22;border-radius:4px;padding:8px 16px 16px 12px}
.embed .title{color:#f2f3f5;font-weight:600;margin-top:8px}.embed .title a{color:#00a8fc;text-decoration:none}
.embed .description{font-size:14px;margin-top:8px;white-space:pre-wrap}
.fields{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:8px;margin-top:8px}
.field{font-size:14px;grid-column:1/4}.field.inline{grid-column:auto}
.field .fname{color:#f2f3f5;font-weight:600;margin-bottom:2px}.field .fvalue{white-space:pre-wrap;word-wrap:break-word}
.footer{font-size:12px;color:#b5bac1;margin-top:8px}
code{background:#1e1f22;border-radius:3px;padding:0 3px;font-size:85%;font-family:Consolas,'Courier New',monospace}
.mention{background:rgba(88,101,242,.3);color:#c9cdfb;border-radius:3px;padding:0 2px;font-weight:500}
.time{background:#3f4147;border-radius:3px;padding:0 2px}
.buttons{display:flex;gap:8px;margin-top:8px;flex-wrap:wrap}
.button{border-radius:3px;padding:2px 16px;font-size:14px;font-weight:500;line-height:28px;color:#fff;background:#4e5058}
.button.success{background:#248046}.button.primary{background:#5865f2}.button.danger{background:#da373c}
.button.disabled{opacity:.5}
";

/// Discord's `<t:UNIX:STYLE>` in the viewer's own zone, as Discord does.
const SCRIPT: &str = "
for (const el of document.querySelectorAll('.time')) {
  const t = new Date(Number(el.dataset.unix) * 1000), style = el.dataset.style;
  if (style === 'R') {
    const s = Math.round((t - Date.now()) / 1000), a = Math.abs(s);
    const [n, u] = a < 60 ? [a, 'second'] : a < 3600 ? [Math.round(a / 60), 'minute'] : a < 86400 ? [Math.round(a / 3600), 'hour'] : [Math.round(a / 86400), 'day'];
    el.textContent = new Intl.RelativeTimeFormat(undefined, {numeric: 'auto'}).format(Math.sign(s) * n, u);
  } else if (style === 'T') {
    el.textContent = t.toLocaleTimeString();
  } else {
    el.textContent = t.toLocaleString(undefined, {dateStyle: 'long', timeStyle: 'short'});
  }
}
";

fn message(m: &CreateMessage) -> Markup {
    html! {
        div.message {
            div.avatar { "IA" }
            div {
                div { span.name { "iam-alarm" } span.tag { "APP" } }
                @if let Some(content) = &m.content {
                    div.content { (markdown(content)) }
                }
                @for e in &m.embeds { (embed(e)) }
                @for row in &m.components {
                    div.buttons { @for b in &row.components { (button(b)) } }
                }
            }
        }
    }
}

fn embed(e: &Embed) -> Markup {
    let colour = e
        .color
        .map_or("#1e1f22".to_owned(), |c| format!("#{c:06x}"));
    html! {
        div.embed style={ "border-left-color:" (colour) } {
            @if let Some(title) = &e.title {
                div.title {
                    @match &e.url {
                        Some(url) => a href=(url) { (markdown(title)) },
                        None => (markdown(title)),
                    }
                }
            }
            @if let Some(d) = &e.description {
                div.description { (markdown(d)) }
            }
            @if !e.fields.is_empty() {
                div.fields {
                    @for f in &e.fields {
                        div.field.inline[f.inline] {
                            div.fname { (markdown(&f.name)) }
                            div.fvalue { (markdown(&f.value)) }
                        }
                    }
                }
            }
            @if let Some(footer) = &e.footer {
                div.footer { (footer.text) }
            }
        }
    }
}

fn button(b: &Button) -> Markup {
    let style = match b.style {
        ButtonStyle::Success => "success",
        ButtonStyle::Primary => "primary",
        ButtonStyle::Danger => "danger",
        ButtonStyle::Secondary | ButtonStyle::Link => "secondary",
    };
    html! {
        span.button.(style).disabled[b.disabled] {
            (b.label) @if b.url.is_some() { " ↗" }
        }
    }
}

/// Text made safe for HTML, appended to `out`.
fn escape_into(out: &mut String, s: &str) {
    let _ = Escaper::new(out).write_str(s);
}

/// The Markdown Discord renders in these messages: backslash escapes, `code`, **bold**, *italic*, mentions and
/// `<t:…>` timestamps. Everything else is text, HTML-escaped.
fn markdown(s: &str) -> Markup {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let (mut bold, mut italic) = (false, false);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                escape_into(&mut out, &chars[i + 1].to_string());
                i += 2;
            }
            '`' => {
                let end = chars[i + 1..].iter().position(|c| *c == '`');
                let Some(end) = end else {
                    out.push('`');
                    i += 1;
                    continue;
                };
                let code: String = chars[i + 1..i + 1 + end].iter().collect();
                out.push_str("<code>");
                escape_into(&mut out, &code);
                out.push_str("</code>");
                i += end + 2;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push_str(if bold { "</strong>" } else { "<strong>" });
                bold = !bold;
                i += 2;
            }
            '*' => {
                out.push_str(if italic { "</em>" } else { "<em>" });
                italic = !italic;
                i += 1;
            }
            '<' => match special(&chars[i..].iter().collect::<String>()) {
                Some((html, len)) => {
                    out.push_str(&html.into_string());
                    i += len;
                }
                None => {
                    out.push_str("&lt;");
                    i += 1;
                }
            },
            c => {
                escape_into(&mut out, c.encode_utf8(&mut [0; 4]));
                i += 1;
            }
        }
    }
    if bold {
        out.push_str("</strong>");
    }
    if italic {
        out.push_str("</em>");
    }
    // Built above from escaped text and the few tags Discord's Markdown makes.
    PreEscaped(out)
}

/// `<@&role>`, `<@user>`, `<t:unix:style>` at the start of `s`: the HTML and how many characters it used.
fn special(s: &str) -> Option<(Markup, usize)> {
    let end = s.find('>')?;
    let inner = &s[1..end];
    let used = s[..=end].chars().count();
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    if let Some(role) = inner.strip_prefix("@&").filter(|r| digits(r)) {
        let name = if role.len() > 6 { "responders" } else { role };
        return Some((html! { span.mention { "@" (name) } }, used));
    }
    if inner.strip_prefix('@').is_some_and(digits) {
        return Some((html! { span.mention { "@responder" } }, used));
    }
    let mut parts = inner.strip_prefix("t:")?.split(':');
    let unix = parts.next().filter(|u| digits(u))?;
    let style = parts.next().unwrap_or("f");
    Some((
        html! { span.time data-unix=(unix) data-style=(style) {} },
        used,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_as_discord_draws_it() {
        let md = |s: &str| markdown(s).into_string();
        assert_eq!(
            md("**a** `b<c>` \\*d"),
            "<strong>a</strong> <code>b&lt;c&gt;</code> *d"
        );
        assert!(md("<@&600000000000000001> hi")
            .starts_with(r#"<span class="mention">@responders</span>"#));
        assert!(md("<t:1700000000:R>").contains(r#"data-unix="1700000000" data-style="R""#));
        assert_eq!(md("<script>"), "&lt;script&gt;");
    }
}
