//! The context every template renders against. The planner builds one per recipient; validation
//! renders every template against [`sample`], which has every field filled, so a template that
//! names a field that does not exist fails at validate time, not in a customer's inbox.

use serde_json::{Value, json};

/// The company block of the context (from `jalin.toml`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Legal name, shown in every footer.
    pub name: String,
    /// A short name for SMS (11 characters or fewer reads well as a sender).
    pub short_name: String,
    /// Postal address, shown in every email footer (required by anti-spam rules).
    pub address: String,
    /// Website.
    pub website: String,
    /// Customer service phone.
    pub phone: String,
    /// Customer service email.
    pub email: String,
}

impl Default for Company {
    fn default() -> Self {
        Company {
            name: "PT Kayu Jaya Nusantara".into(),
            short_name: "KayuJaya".into(),
            address: "Jl. Raya Jepara–Kudus Km 5, Jepara, Jawa Tengah 59431".into(),
            website: "https://kayujaya.example".into(),
            phone: "+62 291 555 0100".into(),
            email: "halo@kayujaya.example".into(),
        }
    }
}

/// The label of an order status in a locale.
pub fn status_label(status: &str, english: bool) -> &'static str {
    match (status, english) {
        ("quoted", false) => "menunggu konfirmasi",
        ("quoted", true) => "awaiting confirmation",
        ("confirmed", false) => "dikonfirmasi",
        ("confirmed", true) => "confirmed",
        ("in_production", false) => "sedang diproduksi",
        ("in_production", true) => "in production",
        ("quality_check", false) => "dalam pemeriksaan mutu",
        ("quality_check", true) => "in quality control",
        ("shipped", false) => "dikirim",
        ("shipped", true) => "shipped",
        ("delivered", false) => "sudah diterima",
        ("delivered", true) => "delivered",
        ("cancelled", false) => "dibatalkan",
        ("cancelled", true) => "cancelled",
        (_, false) => "diperbarui",
        (_, true) => "updated",
    }
}

/// A representative context with every field present, for checking templates.
pub fn sample(company: &Company) -> Value {
    let money = |rupiah: i64| json!({ "minor": rupiah * 100, "currency": "IDR", "amount": format!("{rupiah}.00") });
    let items = json!([
        { "sku": "SOF-JPR-3S", "name": "Sofa Jepara 3 dudukan jati", "category": "sofa", "quantity": 2 },
        { "sku": "CUS-SET-4", "name": "Set 4 bantal sofa", "category": "cushion", "quantity": 1 },
    ]);
    json!({
        "locale": "id",
        "time_zone": "Asia/Jakarta",
        "company": company,
        "customer": {
            "id": 42, "ref": "C0000042", "name": "Budi Santoso", "kind": "distributor",
            "email": "budi@example.co.id", "phone": "+6281234567890", "city": "Semarang",
            "region": "Jawa Tengah", "industry": "furniture_retail", "locale": "id",
            "time_zone": "Asia/Jakarta", "attributes": { "price_list": "dealer", "sales_rep": "Andi" },
        },
        "campaign": { "name": "sample", "variant": "a" },
        "message": { "id": 1_000_001, "channel": "email" },
        "last_order": {
            "ref": "SO-C0000042-007", "status": "delivered", "status_label": "sudah diterima",
            "placed_at": 1_760_000_000, "value": money(18_750_000), "items": items,
        },
        "order": {
            "ref": "SO-C0000042-008", "status": "shipped", "status_label": "dikirim",
            "placed_at": 1_762_000_000, "expected_at": 1_763_500_000,
            "tracking_url": "https://track.kayujaya.example/SO-C0000042-008",
            "value": money(6_200_000), "items": items,
        },
        "points": { "balance": 1_250, "earned_12_months": 5_400, "tier": "gold", "expiring": 300, "expires_at": 1_767_139_200 },
        "tier": { "name": "gold", "benefits": ["Free delivery in Java", "Priority production slot", "5% on accessories"] },
        "offer": { "code": "KJ-7Q4M-2XPA", "percent": 10, "valid_until": 1_766_000_000 },
        "complaint": {
            "ref": "CMP-C0000042-001", "category": "late_delivery", "severity": "high",
            "opened_at": 1_762_500_000, "summary": "Delivery two weeks late",
        },
        "recommendations": [
            { "sku": "CUS-SET-4", "name": "Set 4 bantal sofa", "price": money(650_000), "url": "https://kayujaya.example/p/CUS-SET-4" },
            { "sku": "COV-SOF-3S", "name": "Sarung sofa 3 dudukan", "price": money(420_000), "url": "https://kayujaya.example/p/COV-SOF-3S" },
        ],
        "event": { "type": "order.status_changed", "occurred_at": 1_762_900_000, "payload": {} },
    })
}
