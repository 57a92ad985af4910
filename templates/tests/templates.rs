//! Loading, rendering and refusing templates, with fixtures written to a scratch folder.

use jalin_templates::{Links, Part, RenderFailure, Templates, UntrackedLinks};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

struct Dir(PathBuf);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "jalin-tpl-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn links(l: impl Links + 'static) -> Arc<dyn Links> {
    Arc::new(l)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) * 7919 + u64::from(std::process::id())
}

fn ctx(name: &str, city: &str) -> Value {
    json!({
        "locale": "id", "time_zone": "Asia/Jakarta", "message": { "id": 7 },
        "company": { "name": "PT Kayu Jaya Nusantara" },
        "customer": { "name": name, "city": city, "attributes": { "note": city } },
        "offer": null,
    })
}

fn email_fixture() -> Dir {
    Dir::new(&[
        (
            "_layout/email.html.hbs",
            "<html><body>{{layout_body}}<footer>{{company.name}} <a href=\"{{unsubscribe_url}}\">u</a></footer></body></html>",
        ),
        (
            "hello/subject.id.hbs",
            "Halo {{customer.name}} dari {{customer.city}}",
        ),
        ("hello/subject.en.hbs", "Hello {{customer.name}}"),
        (
            "hello/html.id.hbs",
            "<p>Halo {{customer.name}}, {{customer.attributes.note}}</p><a href=\"{{link \"https://x.id/a?b=1&c=2\"}}\">x</a>",
        ),
        ("hello/sms.id.hbs", "Halo {{first_name customer.name}}"),
        (
            "hello/variants/b/subject.id.hbs",
            "B: {{upper customer.city}}",
        ),
    ])
}

#[test]
fn renders_with_layout_fallback_locale_and_variants() {
    let d = email_fixture();
    let (t, errors) = Templates::load(&d.0, &links(UntrackedLinks));
    assert!(errors.is_empty(), "{errors:?}");
    let m = t
        .render_email("hello", "id", None, &ctx("Budi", "Bandung"))
        .expect("render");
    assert_eq!(m.subject, "Halo Budi dari Bandung");
    assert!(
        m.html.starts_with("<html><body><p>Halo Budi, Bandung</p>"),
        "{}",
        m.html
    );
    // The URL's & is escaped in the attribute.
    assert!(
        m.html
            .contains("href=\"https://x.id/a?b&#x3D;1&amp;c&#x3D;2\"")
            || m.html.contains("href=\"https://x.id/a?b=1&amp;c=2\""),
        "{}",
        m.html
    );
    assert!(m.html.contains("https://unsubscribe.invalid/preview/7"));
    // No text part written: derived from the HTML, links kept.
    assert!(
        m.text.contains("Halo Budi, Bandung") && m.text.contains("(https://x.id/a?b=1&c=2)"),
        "{}",
        m.text
    );
    // English subject exists; the HTML falls back to Indonesian.
    let m = t
        .render_email("hello", "en", None, &ctx("Budi", "Bandung"))
        .expect("render en");
    assert_eq!(m.subject, "Hello Budi");
    assert!(m.html.contains("Halo Budi"));
    // Variant b overrides only the subject.
    let m = t
        .render_email("hello", "id", Some("b"), &ctx("Budi", "Bandung"))
        .expect("render b");
    assert_eq!(m.subject, "B: BANDUNG");
    assert!(m.html.contains("Halo Budi"));
    // SMS falls back to id for an English reader; no SMS for an unknown template.
    assert_eq!(
        t.render_sms("hello", "en", None, &ctx("Budi Santoso", "x"))
            .expect("sms"),
        "Halo Budi"
    );
    assert!(matches!(
        t.render_sms("nope", "id", None, &ctx("a", "b")),
        Err(RenderFailure::Missing(_))
    ));
    assert!(t.has_part("hello", Part::Sms) && !t.has_part("hello", Part::Task));
}

#[test]
fn a_missing_variable_fails_the_message_with_file_and_line() {
    let d = Dir::new(&[
        ("t/sms.id.hbs", "Halo\n{{customer.nmae}}"),
        ("u/sms.id.hbs", "{{#if customer.vip}}VIP{{/if}}"),
    ]);
    let (t, errors) = Templates::load(&d.0, &links(UntrackedLinks));
    assert!(errors.is_empty(), "{errors:?}");
    let Err(RenderFailure::Render(e)) = t.render_sms("t", "id", None, &ctx("Budi", "x")) else {
        panic!("must fail")
    };
    assert!(e.file.ends_with("t/sms.id.hbs") && e.line == 2, "{e}");
    assert!(e.message.contains("customer.nmae"), "{e}");
    // `if` on a field that does not exist is an error too, not a silent false.
    let Err(RenderFailure::Render(e)) = t.render_sms("u", "id", None, &ctx("Budi", "x")) else {
        panic!("must fail")
    };
    assert!(e.message.contains("customer.vip"), "{e}");
}

#[test]
fn bad_templates_are_reported_at_file_and_line() {
    let d = Dir::new(&[
        (
            "a/sms.id.hbs",
            "Halo {{#if customer.name}}\n{{customer.name}",
        ),
        ("b/sms.id.hbs", "ok\n{{{customer.name}}}"),
        ("c/sms.id.hbs", "{{shout customer.name}}"),
        ("d/sms.id.hbs", "{{> missing_partial}}"),
        ("e/greeting.id.hbs", "x"),
        ("f/template.toml", "descripton = \"typo\"\n"),
        ("f/sms.id.hbs", "x"),
        ("g/subject.id.hbs", "subject without a body"),
    ]);
    let (t, errors) = Templates::load(&d.0, &links(UntrackedLinks));
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("a/sms.id.hbs:") && e.contains("syntax")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("b/sms.id.hbs:2:1") && e.contains("trusted_html")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("greeting.id.hbs") && e.contains("unknown template file")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("f/template.toml:1:") && e.contains("descripton")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("g") && e.contains("needs html")),
        "{text:#?}"
    );
    // Unknown helpers and partials surface when validation renders the templates.
    let (render_errors, _) = t.check(&ctx("Budi", "x"));
    let text: Vec<String> = render_errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("c/sms.id.hbs:1:") && e.contains("unknown helper `shout`")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("d/sms.id.hbs") && e.contains("unknown partial `missing_partial`")),
        "{text:#?}"
    );
}

#[test]
fn helpers_format_for_the_reader() {
    let d = Dir::new(&[(
        "h/sms.id.hbs",
        "{{money total}}|{{money 1250000.5}}|{{money 12.5 currency=\"USD\"}}|{{date when format=\"long\"}}|{{datetime when}}|{{plural n \"item\" \"items\"}}|{{default missing_is_fine \"-\"}}|{{title \"budi SANTOSO\"}}|{{lower \"ABC\"}}|{{offer_code}}",
    )]);
    let (t, errors) = Templates::load(&d.0, &links(UntrackedLinks));
    assert!(errors.is_empty(), "{errors:?}");
    let mut c = json!({
        "locale": "id", "time_zone": "Asia/Makassar", "message": {"id": 1},
        "total": {"minor": 125_000_000, "currency": "IDR", "amount": "1250000.00"},
        "when": 1_795_368_600, "n": 3, "offer": {"code": "KJ-1"},
    });
    let id = t.render_sms("h", "id", None, &c).expect("render id");
    assert_eq!(
        id,
        "Rp 1.250.000|Rp 1.250.000,50|USD 12,50|23 November 2026|23 Nov 2026 pukul 01.30 WITA|items|-|Budi Santoso|abc|KJ-1"
    );
    c["locale"] = "en".into();
    let en = t.render_sms("h", "id", None, &c).expect("render en");
    assert_eq!(
        en,
        "IDR 1,250,000|IDR 1,250,000.50|USD 12.50|23 November 2026|23 Nov 2026, 01:30 WITA|items|-|Budi Santoso|abc|KJ-1"
    );
    c["offer"] = Value::Null;
    let Err(RenderFailure::Render(e)) = t.render_sms("h", "id", None, &c) else {
        panic!("offer_code without an offer must fail")
    };
    assert!(e.message.contains("offer"), "{e}");
}

#[derive(Debug)]
struct SignedLinks;
impl Links for SignedLinks {
    fn click(&self, message_id: i64, url: &str) -> String {
        format!("https://t.example/c/{message_id}/{}", url.len())
    }
    fn unsubscribe(&self, message_id: i64) -> String {
        format!("https://t.example/u/{message_id}")
    }
}

#[test]
fn links_come_from_the_signer() {
    let d = email_fixture();
    let (t, _) = Templates::load(&d.0, &links(SignedLinks));
    let m = t
        .render_email("hello", "id", None, &ctx("Budi", "x"))
        .expect("render");
    assert!(
        m.html.contains("https://t.example/c/7/22") && m.html.contains("https://t.example/u/7"),
        "{}",
        m.html
    );
}

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[<>\"'&/ =`\\r\\na-z]{0,40}".prop_map(|s| s),
        Just("<script>alert(1)</script>".to_owned()),
        Just("\"><img src=x onerror=alert(1)>".to_owned()),
        Just("Budi\r\nBcc: victim@example.com".to_owned()),
        Just("x".repeat(10_000)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever a customer's name, city or attribute holds, it cannot open a tag or attribute in
    /// the HTML, and the subject stays on one line.
    #[test]
    fn customer_values_cannot_break_out(name in hostile(), city in hostile()) {
        let d = email_fixture();
        let (t, _) = Templates::load(&d.0, &links(UntrackedLinks));
        let m = t.render_email("hello", "id", None, &ctx(&name, &city)).expect("renders");
        let body = m.html.split("<p>").nth(1).and_then(|s| s.split("</p>").next()).expect("paragraph");
        prop_assert!(!body.contains('<') && !body.contains('>') && !body.contains('"'), "{body}");
        prop_assert!(!m.subject.contains('\r') && !m.subject.contains('\n'));
        prop_assert!(!m.subject.chars().any(char::is_control));
        let sms = t.render_sms("hello", "id", None, &ctx(&name, &city)).expect("sms renders");
        // SMS is text: the value comes through unescaped.
        let first = name.split_whitespace().next().unwrap_or("");
        if !["pt", "cv", "ud", "toko", "hotel", "resort", "villa", "wisma", "kantor", "apartemen", "rumah", "universitas", "kafe", "koperasi"]
            .contains(&first.trim_end_matches('.').to_lowercase().as_str())
        {
            prop_assert_eq!(sms, format!("Halo {first}").trim().to_owned());
        }
    }
}
