//! Deterministic choices per (campaign, customer): holdout, A/B variant and offer code come from a
//! stable hash, so planning the same run again assigns exactly the same.

use super::definition::{QuietHours, Variant};
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;

/// FNV-1a, 64 bits: stable across versions and platforms (unlike the standard library's hasher).
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A number in [0, 10 000) for (campaign, purpose, customer).
pub fn bucket(campaign: &str, purpose: &str, customer_id: i64) -> u32 {
    (fnv1a(&[
        campaign.as_bytes(),
        purpose.as_bytes(),
        &customer_id.to_be_bytes(),
    ]) % 10_000) as u32
}

/// Whether the customer is in the campaign's holdout group.
pub fn held_out(campaign: &str, customer_id: i64, holdout_percent: f64) -> bool {
    f64::from(bucket(campaign, "holdout", customer_id)) < holdout_percent * 100.0
}

/// The customer's A/B variant, by weight.
pub fn variant<'v>(campaign: &str, customer_id: i64, variants: &'v [Variant]) -> &'v str {
    let point = f64::from(bucket(campaign, "variant", customer_id)) / 100.0;
    let mut cumulative = 0.0;
    for v in variants {
        cumulative += v.weight;
        if point < cumulative {
            return &v.name;
        }
    }
    variants.last().map_or("a", |v| v.name.as_str())
}

const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// A hard-to-guess offer code for (campaign, run, customer), e.g. `KJ-7Q4MZ-2XPAB` (50 bits:
/// a million codes collide with odds of about 1 in 2,000, and the planner retries on a collision);
/// `salt` is installation secret material and `attempt` picks another code on a collision.
pub fn offer_code(
    prefix: &str,
    salt: &[u8],
    campaign: &str,
    run_id: i64,
    customer_id: i64,
    attempt: u32,
) -> String {
    let h = fnv1a(&[
        salt,
        campaign.as_bytes(),
        &run_id.to_be_bytes(),
        &customer_id.to_be_bytes(),
        &attempt.to_be_bytes(),
    ]);
    let h2 = fnv1a(&[&h.to_be_bytes(), salt]);
    let mut chars = String::with_capacity(10);
    let mut x = h ^ h2.rotate_left(17);
    for _ in 0..10 {
        chars.push(CODE_ALPHABET[(x % 32) as usize] as char);
        x /= 32;
    }
    format!("{prefix}-{}-{}", &chars[..5], &chars[5..])
}

/// When a message may go: now, or — in the customer's quiet hours — at their end, in the
/// customer's own zone.
pub fn not_before(now: DateTime<Utc>, tz: Tz, quiet: &QuietHours) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&tz);
    if !quiet.contains(local.time()) {
        return None;
    }
    // The next time the clock shows `end` in the customer's zone.
    let mut day = local.date_naive();
    for _ in 0..3 {
        let candidate = tz.from_local_datetime(&day.and_time(quiet.end)).earliest();
        if let Some(c) = candidate
            && c > local
        {
            return Some(c.with_timezone(&Utc));
        }
        day += Duration::days(1);
    }
    Some(now + Duration::hours(12))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Channel;
    use chrono::NaiveTime;

    fn time(hours: u32, minutes: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hours, minutes, 0).unwrap_or(NaiveTime::MIN)
    }

    #[test]
    fn assignment_is_stable_and_follows_weights() {
        let variants = [
            Variant {
                name: "a".into(),
                weight: 70.0,
            },
            Variant {
                name: "b".into(),
                weight: 30.0,
            },
        ];
        let mut b = 0;
        let mut held = 0;
        for id in 0..20_000 {
            assert_eq!(
                variant("win-back", id, &variants),
                variant("win-back", id, &variants)
            );
            b += usize::from(variant("win-back", id, &variants) == "b");
            held += usize::from(held_out("win-back", id, 10.0));
        }
        assert!((5_700..6_300).contains(&b), "30% of 20,000: {b}");
        assert!((1_800..2_200).contains(&held), "10% of 20,000: {held}");
        // Holdout and variant are independent draws.
        assert_ne!(bucket("x", "holdout", 1), bucket("x", "variant", 1));
    }

    #[test]
    fn offer_codes_are_stable_and_distinct() {
        let a = offer_code("KJ", b"salt", "win-back", 1, 42, 0);
        assert_eq!(a, offer_code("KJ", b"salt", "win-back", 1, 42, 0));
        assert_ne!(a, offer_code("KJ", b"salt", "win-back", 1, 43, 0));
        assert_ne!(a, offer_code("KJ", b"salt", "win-back", 1, 42, 1));
        assert!(a.starts_with("KJ-") && a.len() == 14);
        let codes: std::collections::HashSet<String> = (0..100_000)
            .map(|i| offer_code("KJ", b"s", "c", 1, i, 0))
            .collect();
        assert_eq!(codes.len(), 100_000);
    }

    #[test]
    fn quiet_hours_defer_to_their_end_in_the_customer_zone() {
        let quiet = QuietHours {
            start: time(21, 0),
            end: time(8, 0),
            channels: vec![Channel::Sms],
        };
        let jakarta: Tz = "Asia/Jakarta".parse().unwrap();
        let jayapura: Tz = "Asia/Jayapura".parse().unwrap();
        // 15:30 UTC is 22:30 in Jakarta (quiet) and 00:30 next day in Jayapura (quiet).
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 15, 30, 0).unwrap();
        assert_eq!(
            not_before(now, jakarta, &quiet),
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap())
        );
        assert_eq!(
            not_before(now, jayapura, &quiet),
            Some(Utc.with_ymd_and_hms(2026, 11, 23, 23, 0, 0).unwrap())
        );
        // 03:00 UTC is 10:00 in Jakarta: fine.
        assert_eq!(
            not_before(
                Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap(),
                jakarta,
                &quiet
            ),
            None
        );
    }
}
