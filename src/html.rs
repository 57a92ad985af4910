//! HTML escaping for the pages the binary writes (unsubscribe pages, HTML reports).

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<b>\"Toko\" & 'Mebel'</b>"),
            "&lt;b&gt;&quot;Toko&quot; &amp; &#39;Mebel&#39;&lt;/b&gt;"
        );
    }
}
