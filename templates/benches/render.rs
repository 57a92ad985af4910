//! Renders per second, on one core, of a realistic 20 KB HTML email with a written text part,
//! a layout and ten personalised fields (name, city, region, sales rep, last order number, date
//! and value, offer code, percent and expiry — through the money, date, first_name, upper and
//! link helpers); and of the same email with the text part derived from the HTML.
//!
//! cargo bench -p jalin-templates --bench render

use jalin_templates::{Templates, UntrackedLinks};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let dir = std::env::temp_dir().join(format!("jalin-render-bench-{}", std::process::id()));
    let row = "<tr><td style=\"padding:8px;border-bottom:1px solid #eee;font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#333\">Koleksi ruang tamu jati dengan finishing natural, dibuat di Jepara oleh pengrajin kami</td><td align=\"right\" style=\"padding:8px;border-bottom:1px solid #eee\">Rp 8.500.000</td></tr>\n";
    let html = format!(
        "<h1 style=\"font-size:22px\">Halo {{{{first_name customer.name}}}},</h1>\n<p>Pesanan terakhir Anda {{{{last_order.ref}}}} pada {{{{date last_order.placed_at format=\"long\"}}}} senilai {{{{money last_order.value}}}}.</p>\n<p>Kode Anda: <strong>{{{{offer_code}}}}</strong>, diskon {{{{offer.percent}}}}% sampai {{{{date offer.valid_until}}}} untuk toko di {{{{customer.city}}}}.</p>\n<table>{}</table>\n<p><a href=\"{{{{link \"https://kayujaya.example/katalog\"}}}}\">Katalog</a> · {{{{customer.attributes.sales_rep}}}} · {{{{upper customer.region}}}}</p>\n",
        row.repeat(70)
    );
    let text = "Halo {{first_name customer.name}},\nPesanan terakhir {{last_order.ref}} ({{date last_order.placed_at}}), {{money last_order.value}}.\nKode {{offer_code}}: {{offer.percent}}% untuk {{customer.city}}.\nSales: {{customer.attributes.sales_rep}}, {{upper customer.region}}\n";
    let files = [
        ("_layout/email.html.hbs", "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{{company.name}}</title></head><body style=\"margin:0;background:#f4efe6\"><table width=\"600\"><tr><td>{{layout_body}}</td></tr><tr><td style=\"font-size:12px\">{{company.name}} · {{company.address}} · <a href=\"{{unsubscribe_url}}\">Berhenti berlangganan</a></td></tr></table></body></html>".to_owned()),
        ("bench/subject.id.hbs", "{{first_name customer.name}}, diskon {{offer.percent}}% untuk {{customer.city}}".to_owned()),
        ("bench/html.id.hbs", html),
        ("bench/text.id.hbs", text.to_owned()),
        ("derived/subject.id.hbs", "{{first_name customer.name}}, diskon {{offer.percent}}%".to_owned()),
    ];
    for (name, body) in &files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    std::fs::copy(
        dir.join("bench/html.id.hbs"),
        dir.join("derived/html.id.hbs"),
    )
    .expect("copy");
    let (t, errors) = Templates::load(
        &dir,
        &(Arc::new(UntrackedLinks) as Arc<dyn jalin_templates::Links>),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let money = |r: i64| json!({"minor": r * 100, "currency": "IDR", "amount": format!("{r}.00")});
    let ctx = json!({
        "locale": "id", "time_zone": "Asia/Jakarta", "message": {"id": 1},
        "company": {"name": "PT Kayu Jaya Nusantara", "address": "Jl. Raya Jepara–Kudus Km 5, Jepara"},
        "customer": {"name": "Budi Santoso", "city": "Semarang", "region": "Jawa Tengah", "attributes": {"sales_rep": "Andi"}},
        "last_order": {"ref": "SO-C0000042-007", "placed_at": 1_760_000_000, "value": money(18_750_000)},
        "offer": {"code": "KJ-7Q4M-2XPA", "percent": 10, "valid_until": 1_766_000_000},
    });
    let sample = t.render_email("bench", "id", None, &ctx).expect("render");
    let size = sample.html.len() + sample.text.len();
    for (name, template) in [
        ("written text part", "bench"),
        ("text derived from HTML", "derived"),
    ] {
        let n = 20_000;
        for _ in 0..500 {
            std::hint::black_box(t.render_email(template, "id", None, &ctx).expect("render"));
        }
        let started = Instant::now();
        for _ in 0..n {
            std::hint::black_box(t.render_email(template, "id", None, &ctx).expect("render"));
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name}: {n} renders of a {:.1} KB email in {secs:.2} s = {:.0} renders/s on one core ({:.1} µs each)",
            size as f64 / 1024.0,
            n as f64 / secs,
            secs * 1e6 / n as f64
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
