//! The example templates rendered in both locales, compared with reviewed snapshots in
//! tests/snapshots/ (set UPDATE_SNAPSHOTS=1 to rewrite them after an intended change).

use jalin_templates::{Templates, UntrackedLinks};
use jalin_workers::context::{Company, sample, status_label};
use std::path::PathBuf;
use std::sync::Arc;

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {} (run with UPDATE_SNAPSHOTS=1)",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "{name} changed; review and run with UPDATE_SNAPSHOTS=1 if intended"
    );
}

fn render(locale: &str) -> (Templates, serde_json::Value) {
    let dir = crate::segments::repo_config().join("templates");
    let (t, errors) = Templates::load(
        &dir,
        &(Arc::new(UntrackedLinks) as Arc<dyn jalin_templates::Links>),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    let mut ctx = sample(&Company::default());
    let english = locale == "en";
    ctx["locale"] = locale.into();
    ctx["customer"]["locale"] = locale.into();
    ctx["order"]["status_label"] = status_label("shipped", english).into();
    ctx["last_order"]["status_label"] = status_label("delivered", english).into();
    (t, ctx)
}

#[test]
fn example_templates_render_as_reviewed() {
    for locale in ["id", "en"] {
        let (t, ctx) = render(locale);
        for (template, variant) in [
            ("win-back", None),
            ("win-back", Some("b")),
            ("order-status", None),
            ("complaint-ack", None),
        ] {
            let m = t
                .render_email(template, locale, variant, &ctx)
                .expect("email renders");
            let suffix = variant.map(|v| format!("-{v}")).unwrap_or_default();
            snapshot(
                &format!("{template}{suffix}.{locale}.subject.txt"),
                &m.subject,
            );
            snapshot(&format!("{template}{suffix}.{locale}.text.txt"), &m.text);
            snapshot(&format!("{template}{suffix}.{locale}.html"), &m.html);
        }
        for template in ["win-back", "order-status", "tier-upgraded"] {
            snapshot(
                &format!("{template}.{locale}.sms.txt"),
                &t.render_sms(template, locale, None, &ctx)
                    .expect("sms renders"),
            );
        }
        snapshot(
            &format!("callback-task.{locale}.task.txt"),
            &t.render_task("callback-task", locale, None, &ctx)
                .expect("task renders"),
        );
    }
}

#[test]
fn validate_reports_template_problems_and_sms_over_the_limit_at_their_files() {
    let dir = crate::common::Scratch::new();
    dir.write("segments/all.toml", "[rule]\nconsent = \"sms\"\n");
    dir.write("templates/long/template.toml", "sms_max_segments = 1\n");
    dir.write(
        "templates/long/sms.id.hbs",
        &format!(
            "{{{{company.short_name}}}}: {} {{{{link \"https://kayujaya.example/promo\"}}}}",
            "Diskon besar untuk semua sofa jati. ".repeat(4)
        ),
    );
    dir.write("templates/typo/sms.en.hbs", "Hi {{customer.frist_name}}");
    dir.write("templates/typo/subject.id.hbs", "{{#each}}");
    let (_, errors) = jalin_workers::project::Project::load(&dir.0);
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.contains("templates/long/sms.id.hbs:1:1")
                && e.contains("segments")
                && e.contains("sms_max_segments is 1")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(
            |e| e.contains("templates/typo/sms.en.hbs:1:") && e.contains("customer.frist_name")
        ),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("templates/typo/subject.id.hbs") && e.contains("syntax")),
        "{text:#?}"
    );
}
