//! Parsing segment files: what is accepted and how mistakes are reported.

use super::*;
use crate::config::SourceFile;

fn parse(text: &str) -> Result<Segment, Vec<ConfigError>> {
    parse_segment(&SourceFile::new("segments/s.toml", text), "s")
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(s) => panic!("expected errors, parsed {:?}", s.rule),
        Err(es) => es.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn parses_every_predicate() {
    let s = parse(
        r#"
description = "all of it"
[rule]
all = [
  { field = "kind", in = ["distributor", "retailer"] },
  { field = "attributes.credit_days", gte = 30 },
  { field = "created_at", between = [2024-01-01, "2024-12-31"] },
  { orders = { sum = { gte = 5000000 }, within_days = 365, category = "sofa", status = ["delivered"] } },
  { days_since_last_order = { gte = 90 } },
  { first_order_within_days = 30 },
  { not_bought = { category = ["cushion", "cover"] } },
  { tier = "Gold" },
  { points = { between = [100, 500] } },
  { open_complaint = false },
  { consent = "sms" },
  { no_event = { type = ["email.opened", "email.clicked"], within_days = 30 } },
  { event = { type = "email.clicked", campaign = "win-back", count = { gte = 2 } } },
  { score = "churn_probability", gte = 0.5, lt = 0.9 },
  { rfm_cell = ["555", "554"] },
  { any = [ { field = "city", eq = "Jakarta" }, { not = { field = "email", exists = true } } ] },
]
"#,
    )
    .expect("valid");
    let Rule::All(rules) = s.rule else {
        panic!("all")
    };
    assert_eq!(rules.len(), 16);
    assert_eq!(rules[7], Rule::Tier(vec!["gold".into()]));
    assert!(
        matches!(&rules[3], Rule::Orders(f, OrderMeasure::Sum, c) if f.window == Window::LastDays(365) && c.gte == Some(5_000_000.0))
    );
    assert!(matches!(&rules[8], Rule::Points(c) if c.gte == Some(100.0) && c.lte == Some(500.0)));
}

#[test]
fn errors_name_file_line_column_and_field() {
    let e = errors("[rule]\nall = [\n  { field = \"kind\", eq = 3 },\n]\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("segments/s.toml:3:"), "{e:?}");
    assert!(
        e[0].contains("rule.all[0]") && e[0].contains("quotes"),
        "{e:?}"
    );

    let e = errors("[rule]\nall = [ { field = \"kind\", eq = \"wholesaler\" } ]\n");
    assert!(
        e[0].contains("unknown customer kind") && e[0].contains("distributor"),
        "{e:?}"
    );

    let e = errors("[rule]\nall = [ { field = \"cty\", eq = \"Jakarta\" } ]\n");
    assert!(
        e[0].contains("unknown field") && e[0].contains("did you mean `city`"),
        "{e:?}"
    );

    let e = errors("[rule]\nall = [ { field = \"city\", equals = \"Jakarta\" } ]\n");
    assert!(
        e.iter()
            .any(|m| m.contains("unknown key `equals`") && m.contains("eq")),
        "{e:?}"
    );

    let e = errors("[rule]\nany = []\n");
    assert!(
        e[0].contains("s.toml:2:") && e[0].contains("at least one rule"),
        "{e:?}"
    );

    let e = errors("[rule]\norders = { count = { gte = \"three\" }, within_days = 365 }\n");
    assert!(
        e[0].contains("rule.orders.count.gte") && e[0].contains("number"),
        "{e:?}"
    );

    let e = errors("[rule]\norders = { count = { gte = 3 }, within_days = 0 }\n");
    assert!(e[0].contains("within_days"), "{e:?}");

    let e = errors("[rule]\nconsent = \"fax\"\n");
    assert!(e[0].contains("unknown channel"), "{e:?}");

    let e = errors("description = 1\n");
    assert!(e.iter().any(|m| m.contains("missing `rule`")), "{e:?}");
    assert!(
        e.iter()
            .any(|m| m.contains("description") && m.contains("string")),
        "{e:?}"
    );

    let e =
        errors("[rule]\nall = [ { field = \"kind\", eq = \"consumer\", consent = \"email\" } ]\n");
    assert!(e[0].contains("one rule per table"), "{e:?}");

    let e = errors("[rule]\nall = [ { score = \"loyalty\", gte = 1 } ]\n");
    assert!(e[0].contains("unknown score"), "{e:?}");

    let e = errors("[rule\nall = [ ]\n");
    assert!(
        e[0].contains("TOML syntax error") && e[0].starts_with("segments/s.toml:1:"),
        "{e:?}"
    );
}

#[test]
fn sql_looking_values_are_only_values() {
    let s =
        parse("[rule]\nfield = \"name\"\neq = \"x'; DROP TABLE customers; --\"\n").expect("valid");
    assert_eq!(
        s.rule,
        Rule::Field(
            Field::Column(Column::Name),
            FieldOp::Eq(Value::Text("x'; DROP TABLE customers; --".into()))
        )
    );
    let set = SegmentSet::from_segments([s.clone()]);
    for backend in [
        crate::store::Backend::Sqlite,
        crate::store::Backend::Postgres,
    ] {
        let c = Compiler::new(&set, backend, 0)
            .count(&s.rule)
            .expect("compiles");
        assert!(!c.sql.contains("DROP"), "{}", c.sql);
        assert!(
            c.values
                .0
                .iter()
                .any(|v| matches!(v, sea_query::Value::String(Some(t)) if t.contains("DROP")))
        );
    }
}

#[test]
fn cycles_and_unknown_segments_are_reported_where_written() {
    let dir = std::env::temp_dir().join(format!("jalin-seg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("a.toml"),
        "[rule]\nall = [ { segment = \"b\" } ]\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("b.toml"),
        "[rule]\nany = [\n  { segment = \"a\" },\n]\n",
    )
    .expect("write");
    std::fs::write(dir.join("c.toml"), "[rule]\nsegment = \"c\"\n").expect("write");
    std::fs::write(dir.join("d.toml"), "[rule]\nsegment = \"lapsed\"\n").expect("write");
    std::fs::write(dir.join("e.toml"), "[rule]\nsegment = \"f\"\n").expect("write");
    std::fs::write(dir.join("f.toml"), "[rule]\nconsent = 1\n").expect("write");
    std::fs::write(dir.join("ok.toml"), "[rule]\nconsent = \"email\"\n").expect("write");
    let (set, errors) = load_segments(&dir, "segments");
    let _ = std::fs::remove_dir_all(&dir);
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.starts_with("segments/c.toml:2:") && e.contains("c → c")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("a → b → a") || e.contains("b → a → b")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(
            |e| e.starts_with("segments/d.toml:2:") && e.contains("unknown segment \"lapsed\"")
        ),
        "{text:#?}"
    );
    // e refers to f, which exists but is broken: f's own error is reported, e is left out.
    assert!(
        text.iter().any(|e| e.starts_with("segments/f.toml")),
        "{text:#?}"
    );
    assert!(
        !text.iter().any(|e| e.contains("unknown segment \"f\"")),
        "{text:#?}"
    );
    assert_eq!(set.names(), vec!["ok"]);
}

#[test]
fn count_comparisons_know_about_zero() {
    let c = |s: &str| {
        let seg = parse(&format!("[rule]\norders = {{ count = {s} }}\n")).expect("valid");
        let Rule::Orders(_, _, cmp) = seg.rule else {
            panic!()
        };
        cmp
    };
    assert!(c("{ gte = 1 }").is_at_least_one());
    assert!(c("{ gt = 0 }").is_at_least_one());
    assert!(!c("{ gte = 2 }").is_at_least_one());
    assert!(c("{ eq = 0 }").is_zero());
    assert!(c("{ lt = 1 }").is_zero());
    assert!(!c("{ lt = 2 }").is_zero());
    assert!(c("{ lt = 2 }").holds(0.0));
}
