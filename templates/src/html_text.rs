//! Deriving a readable plain-text part from an HTML email, keeping the links.

/// Converts HTML to plain text: block elements become line breaks, list items get a dash,
/// a link becomes `label (url)`, `<head>`, `<style>` and `<script>` are dropped, entities are
/// decoded and runs of blank lines collapse to one.
///
/// ```
/// let text = jalin_templates::html_to_text(
///     "<h1>Halo&nbsp;Budi</h1><p>Lihat <a href=\"https://x.id/sofa\">koleksi</a>.</p><ul><li>A</li><li>B</li></ul>");
/// assert_eq!(text, "Halo Budi\n\nLihat koleksi (https://x.id/sofa).\n\n- A\n- B");
/// ```
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 3);
    let mut href: Option<String> = None;
    let mut link_text_start = 0;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(&mut out, rest);
            break;
        };
        push_text(&mut out, &rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            push_text(&mut out, rest);
            break;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name_part = tag.trim_start_matches('/');
        let end = name_part
            .bytes()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(name_part.len());
        let mut buf = [0u8; 12];
        let name = if end <= buf.len() {
            buf[..end].copy_from_slice(&name_part.as_bytes()[..end]);
            buf[..end].make_ascii_lowercase();
            std::str::from_utf8(&buf[..end]).unwrap_or("")
        } else {
            ""
        };
        match (name, closing) {
            ("head" | "style" | "script" | "title", false) => rest = skip_element(rest, name),
            ("br", _) => newline(&mut out, 1),
            (
                "p" | "div" | "table" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol"
                | "blockquote" | "hr",
                _,
            ) => newline(&mut out, 2),
            ("tr", true) => newline(&mut out, 1),
            ("td" | "th", true) if !out.ends_with(['\n', ' ']) => out.push(' '),
            ("li", false) => {
                newline(&mut out, 1);
                out.push_str("- ");
            }
            ("li", true) => newline(&mut out, 1),
            ("a", false) => {
                href = attribute(tag, "href").map(|h| decode_entities(&h));
                link_text_start = out.len();
            }
            ("a", true) => {
                if let Some(url) = href.take() {
                    let label = out[link_text_start..].trim();
                    if label.is_empty() {
                        out.push_str(&url);
                    } else if label != url && !url.starts_with("mailto:") {
                        out.push_str(" (");
                        out.push_str(&url);
                        out.push(')');
                    }
                }
            }
            _ => {}
        }
    }
    tidy(&out)
}

/// The rest of the document after the closing tag of `name` (case-insensitive), without
/// allocating.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let mut from = 0;
    while let Some(i) = rest[from..].find("</") {
        let at = from + i + 2;
        let candidate = rest.get(at..at + name.len()).unwrap_or("");
        if candidate.eq_ignore_ascii_case(name) {
            return rest[at..].find('>').map_or("", |j| &rest[at + j + 1..]);
        }
        from = at;
    }
    ""
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let mut from = 0;
    while let Some(i) = find_ascii_ci(&tag[from..], name) {
        let at = from + i;
        let before_ok = at == 0 || bytes[at - 1].is_ascii_whitespace();
        let after = tag[at + name.len()..].trim_start();
        if before_ok && after.starts_with('=') {
            let value = after[1..].trim_start();
            return Some(match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_owned(),
                _ => value.split_whitespace().next().unwrap_or("").to_owned(),
            });
        }
        from = at + name.len();
    }
    None
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn newline(out: &mut String, n: usize) {
    while out.ends_with(' ') {
        out.pop();
    }
    let have = out.bytes().rev().take_while(|b| *b == b'\n').count();
    for _ in have..n {
        out.push('\n');
    }
}

/// Appends text with whitespace runs collapsed to one space (a no-break space is kept as a
/// space), decoding entities.
fn push_text(out: &mut String, raw: &str) {
    if raw.contains('&') {
        push_collapsed(out, &decode_entities(raw));
    } else {
        push_collapsed(out, raw);
    }
}

fn push_collapsed(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let space = |out: &mut String| {
        if !out.is_empty() && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
    };
    let mut word_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            out.push_str(&text[word_start..i]);
            space(out);
            i += 1;
            word_start = i;
        } else if b == 0xC2 && bytes.get(i + 1) == Some(&0xA0) {
            // A no-break space stays a space, even next to another.
            out.push_str(&text[word_start..i]);
            out.push(' ');
            i += 2;
            word_start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[word_start..]);
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let ch = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "copy" => Some('©'),
                "reg" => Some('®'),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "hellip" => Some('…'),
                "rsquo" => Some('’'),
                "lsquo" => Some('‘'),
                "rdquo" => Some('”'),
                "ldquo" => Some('“'),
                _ => ent
                    .strip_prefix("#x")
                    .or_else(|| ent.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            ch.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn tidy(s: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let mut blank = 0;
    for line in s.lines().map(str::trim) {
        if line.is_empty() {
            blank += 1;
            if blank > 1 || lines.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        lines.push(line);
    }
    while lines.last() == Some(&"") {
        lines.pop();
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn keeps_links_and_structure() {
        let html = r#"<html><head><title>x</title><style>p{color:red}</style></head><body>
<div>Halo <b>Budi</b>,</div><p>Pesanan &amp; pengiriman: <a href='https://track.example/SO-1?a=1&amp;b=2'>lacak</a></p>
<table><tr><td>Sofa</td><td>Rp 1.000</td></tr></table>
<a href="https://x.id">https://x.id</a> <a href="mailto:cs@x.id">email kami</a>
<!-- hidden --><img src="https://t/o/1.gif" alt=""></body></html>"#;
        let text = html_to_text(html);
        assert_eq!(
            text,
            "Halo Budi,\n\nPesanan & pengiriman: lacak (https://track.example/SO-1?a=1&b=2)\n\nSofa Rp 1.000\n\nhttps://x.id email kami"
        );
    }

    #[test]
    fn never_panics_on_broken_html() {
        for s in [
            "<",
            "<a href=",
            "&",
            "&#xFFFFFFFF;",
            "<p",
            "text</",
            "<!-- open",
            "<a>x</a>",
            "é&nbsp;<br/>",
        ] {
            let _ = html_to_text(s);
        }
    }
}
