//! One chunk of sample customers with everything that happened to them.

use super::catalog::{
    CITIES, COMPANY_WORDS, COMPLAINT_CATEGORIES, COMPLAINT_CHANNELS, EMAIL_DOMAINS, FIRST_NAMES,
    HOTEL_WORDS, LAST_NAMES, PRODUCTS, Product, SALES_REPS,
};
use super::{ChunkOut, SampleParams};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};
use std::ops::Range;

const WEEK: f64 = 7.0 * 86_400.0;
const DAY: i64 = 86_400;

type Csv = csv::Writer<Vec<u8>>;

fn csv_buffer() -> Csv {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(1 << 16))
}

fn ts(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn opt_ts(secs: Option<i64>) -> String {
    secs.map(ts).unwrap_or_default()
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Seasonal purchase intensity relative to its maximum (1.0): busier before Lebaran and at
/// year-end, quieter mid-year.
fn season(t: i64) -> f64 {
    let day_of_year = (t.rem_euclid(365 * DAY)) as f64 / DAY as f64;
    let wave = (2.0 * std::f64::consts::PI * (day_of_year - 60.0) / 182.5).cos();
    (1.0 + 0.2 * wave) / 1.2
}

fn ascii_slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn write(w: &mut Csv, fields: &[&str]) {
    // Writing to a Vec cannot fail.
    let _ = w.write_record(fields);
}

/// Generates customers `range` (0-based) with their own random stream per chunk.
pub(crate) fn generate_chunk(params: &SampleParams, chunk: u64, range: Range<u64>) -> ChunkOut {
    let mut rng =
        ChaCha8Rng::seed_from_u64(params.seed ^ chunk.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let (mut customers, mut consent, mut orders, mut lines, mut complaints, mut events) = (
        csv_buffer(),
        csv_buffer(),
        csv_buffer(),
        csv_buffer(),
        csv_buffer(),
        csv_buffer(),
    );
    let mut out = ChunkOut::default();
    let lambda_dist = Gamma::new(params.r, 1.0 / params.alpha).ok();
    let p_dist = Beta::new(params.a, params.b).ok();
    let nu_dist = Gamma::new(params.q_spend, 1.0 / params.gamma_spend).ok();
    let (Some(lambda_dist), Some(p_dist), Some(nu_dist)) = (lambda_dist, p_dist, nu_dist) else {
        return out;
    };
    let as_of = params.as_of.timestamp();
    let city_total: u32 = CITIES.iter().map(|c| c.3).sum();

    for index in range {
        let number = index + 1;
        let cref = format!("C{number:07}");
        let lambda: f64 = lambda_dist.sample(&mut rng);
        let dropout: f64 = p_dist.sample(&mut rng);
        let nu: f64 = nu_dist.sample(&mut rng);
        let mean_spend = params.p_spend / nu;
        let lead = rng.random_bool(0.04);
        let age_weeks = rng.random::<f64>() * params.history_weeks;
        let created_at = as_of - (age_weeks * WEEK) as i64 - rng.random_range(0..DAY);

        // Who they are follows what they spend: big spenders are projects and distributors.
        let u: f64 = rng.random();
        let kind = if mean_spend > 6.0 {
            if u < 0.55 {
                "project_buyer"
            } else {
                "distributor"
            }
        } else if mean_spend > 3.5 {
            if u < 0.4 {
                "distributor"
            } else if u < 0.85 {
                "retailer"
            } else {
                "consumer"
            }
        } else if u < 0.7 {
            "consumer"
        } else {
            "retailer"
        };
        let mut roll = rng.random_range(0..city_total);
        let city = CITIES
            .iter()
            .find(|c| {
                if roll < c.3 {
                    true
                } else {
                    roll -= c.3;
                    false
                }
            })
            .unwrap_or(&CITIES[0]);
        let first = *pick(&mut rng, FIRST_NAMES);
        let last = *pick(&mut rng, LAST_NAMES);
        let (name, industry, domain) = match kind {
            "consumer" => (
                format!("{first} {last}"),
                String::new(),
                (*pick(&mut rng, EMAIL_DOMAINS)).to_owned(),
            ),
            "project_buyer" => {
                let org = format!(
                    "{} {}",
                    pick(&mut rng, HOTEL_WORDS),
                    pick(&mut rng, COMPANY_WORDS)
                );
                let domain = format!("{}.co.id", ascii_slug(&org));
                (org, "hospitality".to_owned(), domain)
            }
            _ => {
                let prefix = if kind == "distributor" {
                    "PT"
                } else if rng.random_bool(0.5) {
                    "CV"
                } else {
                    "Toko Mebel"
                };
                let org = format!(
                    "{prefix} {} {}",
                    pick(&mut rng, COMPANY_WORDS),
                    pick(&mut rng, COMPANY_WORDS)
                );
                let domain = format!("{}.co.id", ascii_slug(&org));
                (org, "furniture_retail".to_owned(), domain)
            }
        };
        let has_email = rng.random_bool(0.92);
        let email = if has_email {
            format!(
                "{}.{}{}@{domain}",
                ascii_slug(first),
                ascii_slug(last),
                number
            )
        } else {
            String::new()
        };
        let has_phone = rng.random_bool(0.95);
        let phone = if has_phone {
            format!(
                "+628{}{:09}",
                rng.random_range(11..=59),
                rng.random_range(0..1_000_000_000u64)
            )
        } else {
            String::new()
        };
        let locale = if kind == "project_buyer" && rng.random_bool(0.5) || rng.random_bool(0.1) {
            "en"
        } else {
            "id"
        };
        let price_list = match kind {
            "distributor" => "dealer",
            "retailer" => "reseller",
            "project_buyer" => "project",
            _ => "retail",
        };
        let attributes = format!(
            r#"{{"price_list":"{price_list}","sales_rep":"{}","credit_days":{}}}"#,
            pick(&mut rng, SALES_REPS),
            if kind == "consumer" {
                0
            } else {
                30 * rng.random_range(1..=3)
            }
        );
        write(
            &mut customers,
            &[
                &cref,
                kind,
                &name,
                &email,
                &phone,
                locale,
                city.2,
                city.1,
                city.0,
                &industry,
                &ts(created_at),
                &attributes,
            ],
        );
        out.summary.customers += 1;

        // Consent: most agree at sign-up; a few withdraw later.
        let mut email_ok = false;
        for (channel, has, rate, source, out_source) in [
            ("email", has_email, 0.88, "erp_signup", "unsubscribe_link"),
            ("sms", has_phone, 0.75, "store_form", "sms_stop"),
            ("webhook", has_phone, 0.65, "sales_visit", "call_center"),
        ] {
            if !has {
                continue;
            }
            let granted = rng.random_bool(rate);
            let status = if granted { "opted_in" } else { "opted_out" };
            write(
                &mut consent,
                &[&cref, channel, status, source, &ts(created_at)],
            );
            out.summary.consents += 1;
            let mut current = granted;
            if granted && rng.random_bool(0.05) {
                let when = created_at + ((as_of - created_at) as f64 * rng.random::<f64>()) as i64;
                write(
                    &mut consent,
                    &[&cref, channel, "opted_out", out_source, &ts(when)],
                );
                out.summary.consents += 1;
                current = false;
            }
            if channel == "email" {
                email_ok = current;
            }
        }

        // Purchases: a Poisson process thinned by the season, dropout after repeat purchases.
        let mut times = Vec::new();
        if !lead {
            times.push(created_at);
            let arrivals = Exp::new(lambda).ok();
            let mut t = 0.0;
            while let Some(arrivals) = &arrivals {
                t += arrivals.sample(&mut rng);
                let at = created_at + (t * WEEK) as i64;
                if at >= as_of {
                    break;
                }
                if rng.random::<f64>() > season(at) {
                    continue;
                }
                times.push(at);
                if rng.random::<f64>() < dropout {
                    break;
                }
            }
        }
        let spend = Gamma::new(params.p_spend, 1.0 / nu).ok();
        for (k, placed) in times.iter().copied().enumerate() {
            let target = spend.as_ref().map_or(1.0, |g| g.sample(&mut rng)) * 1_000_000.0;
            let order_ref = format!("SO-{cref}-{:03}", k + 1);
            let order = write_order(
                &mut rng,
                kind,
                &cref,
                &order_ref,
                placed,
                as_of,
                target,
                &mut orders,
                &mut lines,
            );
            out.summary.orders += 1;
            out.summary.order_lines += order.lines;
            // About one order in forty turns into a complaint.
            if let Some(delivered) = order.delivered_at
                && rng.random_bool(0.025)
            {
                let opened = delivered + rng.random_range(0..5 * DAY);
                if opened < as_of {
                    let resolved = opened + rng.random_range(DAY..12 * DAY);
                    let resolved = (resolved < as_of && rng.random_bool(0.9)).then_some(resolved);
                    let severity =
                        *pick(&mut rng, &["low", "medium", "medium", "high", "critical"]);
                    write(
                        &mut complaints,
                        &[
                            &format!("CMP-{cref}-{:03}", k + 1),
                            &cref,
                            &order_ref,
                            *pick(&mut rng, COMPLAINT_CATEGORIES),
                            severity,
                            *pick(&mut rng, COMPLAINT_CHANNELS),
                            &ts(opened),
                            &opt_ts(resolved),
                            "",
                        ],
                    );
                    out.summary.complaints += 1;
                }
            }
        }

        // The last two monthly newsletters, from before jalin: sends, opens, clicks.
        if email_ok {
            for (n, days_ago) in [(1, 40), (2, 10)] {
                let sent = as_of - days_ago * DAY + 3 * 3600;
                if sent < created_at {
                    continue;
                }
                let campaign = format!("newsletter-{n}");
                let key = |kind: &str| format!("sample-{campaign}-{cref}-{kind}");
                write(
                    &mut events,
                    &[
                        &key("sent"),
                        "message.sent",
                        &ts(sent),
                        &cref,
                        &campaign,
                        "",
                        r#"{"channel":"email"}"#,
                    ],
                );
                out.summary.events += 1;
                if rng.random_bool(0.3) {
                    let opened = sent + rng.random_range(600..3 * DAY);
                    write(
                        &mut events,
                        &[
                            &key("open"),
                            "email.opened",
                            &ts(opened),
                            &cref,
                            &campaign,
                            "",
                            "{}",
                        ],
                    );
                    out.summary.events += 1;
                    if rng.random_bool(0.35) {
                        let link = "https://kayujaya.example/koleksi/ruang-tamu";
                        write(
                            &mut events,
                            &[
                                &key("click"),
                                "email.clicked",
                                &ts(opened + 40),
                                &cref,
                                &campaign,
                                link,
                                "{}",
                            ],
                        );
                        out.summary.events += 1;
                    }
                }
            }
        }
    }
    for (buf, w) in out
        .files
        .iter_mut()
        .zip([customers, consent, orders, lines, complaints, events])
    {
        *buf = w.into_inner().unwrap_or_default();
    }
    out
}

struct WrittenOrder {
    lines: u64,
    delivered_at: Option<i64>,
}

/// Products a kind of customer tends to buy, by category.
fn basket(kind: &str, rng: &mut ChaCha8Rng) -> Vec<&'static Product> {
    let in_category = |cats: &[&str], rng: &mut ChaCha8Rng| -> &'static Product {
        let choices: Vec<&'static Product> = PRODUCTS
            .iter()
            .filter(|p| cats.contains(&p.category))
            .collect();
        choices[rng.random_range(0..choices.len())]
    };
    let count = match kind {
        "consumer" => rng.random_range(1..=2),
        "project_buyer" => rng.random_range(2..=3),
        _ => rng.random_range(2..=4),
    };
    let mut items: Vec<&'static Product> = Vec::with_capacity(count);
    for i in 0..count {
        let cats: &[&str] = match (kind, i) {
            ("project_buyer", _) => &["chair", "table", "bed", "cabinet", "lamp"],
            (_, 0) => &["sofa", "table", "cabinet", "bed", "chair", "appliance"],
            _ => &[
                "cushion",
                "cover",
                "lamp",
                "appliance",
                "chair",
                "sofa",
                "table",
            ],
        };
        let p = in_category(cats, rng);
        if !items.iter().any(|q| q.sku == p.sku) {
            items.push(p);
        }
    }
    items
}

#[allow(clippy::too_many_arguments)]
fn write_order(
    rng: &mut ChaCha8Rng,
    kind: &str,
    cref: &str,
    order_ref: &str,
    placed: i64,
    as_of: i64,
    target: f64,
    orders: &mut Csv,
    lines: &mut Csv,
) -> WrittenOrder {
    let items = basket(kind, rng);
    let weights: Vec<f64> = items
        .iter()
        .map(|p| p.list_price as f64 * (0.5 + rng.random::<f64>()))
        .collect();
    let total_weight: f64 = weights.iter().sum();
    let mut value = 0i64;
    let mut cost = 0i64;
    let mut made_to_order = false;
    for (n, (p, w)) in items.iter().zip(&weights).enumerate() {
        let share = target * w / total_weight;
        let quantity = ((share / p.list_price as f64).round() as i64).max(1);
        let unit = (((share / quantity as f64) / 1000.0).round() as i64).max(1) * 1000;
        value += unit * quantity;
        cost += (unit as f64 * quantity as f64 * p.cost_share * (0.95 + 0.1 * rng.random::<f64>()))
            as i64;
        made_to_order |= p.make_to_order;
        write(
            lines,
            &[
                order_ref,
                &(n + 1).to_string(),
                p.sku,
                &quantity.to_string(),
                &unit.to_string(),
            ],
        );
    }
    let discount = if rng.random_bool(0.2) {
        (value as f64 * if rng.random_bool(0.5) { 0.05 } else { 0.1 } / 1000.0).round() as i64
            * 1000
    } else {
        0
    };
    // Lifecycle: made-to-order goods take weeks, stock goods days.
    let (production, check, ship, deliver) = if made_to_order {
        (2, 14, 18, 24)
    } else {
        (0, 1, 2, 5)
    };
    let at = |days: i64| placed + days * DAY + 3600 * 2;
    let cancelled = rng.random_bool(0.025) && as_of - placed > 3 * DAY;
    let mut times: [Option<i64>; 6] = [None; 6];
    let statuses = [
        "confirmed",
        "in_production",
        "quality_check",
        "shipped",
        "delivered",
    ];
    let mut status = "quoted";
    if cancelled {
        times[0] = Some(at(0));
        times[5] = Some(at(2));
        status = "cancelled";
    } else {
        for (i, days) in [0, production, check, ship, deliver]
            .into_iter()
            .enumerate()
        {
            if at(days) < as_of {
                times[i] = Some(at(days));
                status = statuses[i];
            }
        }
    }
    let expected = at(deliver + 1);
    let tracking = if times[3].is_some() {
        format!("https://track.kayujaya.example/{order_ref}")
    } else {
        String::new()
    };
    let _ = cref;
    write(
        orders,
        &[
            order_ref,
            cref,
            status,
            &ts(placed),
            &opt_ts(times[0]),
            &opt_ts(times[1]),
            &opt_ts(times[2]),
            &opt_ts(times[3]),
            &opt_ts(times[4]),
            &opt_ts(times[5]),
            &ts(expected),
            &value.to_string(),
            &cost.to_string(),
            &discount.to_string(),
            "IDR",
            "",
            &tracking,
        ],
    );
    WrittenOrder {
        lines: items.len() as u64,
        delivered_at: times[4],
    }
}
