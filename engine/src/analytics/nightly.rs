//! The nightly recompute: due once per local day after `nightly_at`, claimed in the database so
//! that however many schedulers run, one of them computes.

use super::{AnalyticsSettings, Recompute, recompute};
use crate::campaigns::read_cursor;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::with_pool;
use chrono::{NaiveTime, TimeZone};

const CURSOR: &str = "metrics_nightly";

/// The local day (days since 1970-01-01) whose nightly run is due at `now`: today once the
/// local clock has passed `at`, yesterday before. None when the settings do not parse.
pub fn due_day(settings: &AnalyticsSettings, now: i64) -> Option<i64> {
    let zone: chrono_tz::Tz = settings.time_zone.parse().ok()?;
    let at = NaiveTime::parse_from_str(settings.nightly_at.trim(), "%H:%M").ok()?;
    let local = zone.timestamp_opt(now, 0).single()?;
    let day = local
        .date_naive()
        .signed_duration_since(chrono::NaiveDate::default())
        .num_days();
    Some(if local.time() >= at { day } else { day - 1 })
}

/// What is wrong with the schedule settings, if anything.
pub fn problem(settings: &AnalyticsSettings) -> Option<String> {
    if settings.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Some(format!("unknown time zone {:?}", settings.time_zone));
    }
    if NaiveTime::parse_from_str(settings.nightly_at.trim(), "%H:%M").is_err() {
        return Some(format!(
            "nightly_at {:?} is not a time such as \"02:00\"",
            settings.nightly_at
        ));
    }
    None
}

/// Recomputes when tonight's run is due and no other scheduler has claimed it. A failed run
/// gives the claim back so the next tick tries again.
pub async fn run_if_due(
    store: &Store,
    settings: &AnalyticsSettings,
    now: i64,
) -> Result<Option<Recompute>> {
    let Some(day) = due_day(settings, now) else {
        return Err(Error::Invalid(problem(settings).unwrap_or_default()));
    };
    let ctx = "claiming the nightly recompute";
    // Every scheduler tick asks; only a read until tonight's run is due.
    let previous = read_cursor(store, CURSOR).await?;
    if previous >= day {
        return Ok(None);
    }
    with_pool!(store, pool => sqlx::query(
        "INSERT INTO scheduler_state (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
        .bind(CURSOR).execute(pool).await.map(|_| ()))
    .map_err(Error::db(ctx))?;
    let claimed = with_pool!(store, pool => sqlx::query(
        "UPDATE scheduler_state SET value = $2 WHERE name = $1 AND value < $2")
        .bind(CURSOR).bind(day).execute(pool).await.map(|r| r.rows_affected()))
    .map_err(Error::db(ctx))?;
    if claimed == 0 {
        return Ok(None);
    }
    match recompute(store, settings, now).await {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            with_pool!(store, pool => sqlx::query(
                "UPDATE scheduler_state SET value = $2 WHERE name = $1 AND value = $3")
                .bind(CURSOR).bind(previous).bind(day).execute(pool).await.map(|_| ()))
            .map_err(Error::db(ctx))?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_after_the_local_time() {
        let s = AnalyticsSettings::default(); // 02:00 Asia/Jakarta (UTC+7)
        // 2026-11-23 18:30 UTC is 01:30 on the 24th in Jakarta: the 23rd's run is due.
        let before = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 18, 30, 0)
            .unwrap()
            .timestamp();
        let after = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 19, 30, 0)
            .unwrap()
            .timestamp();
        let d_before = due_day(&s, before).expect("valid");
        let d_after = due_day(&s, after).expect("valid");
        assert_eq!(d_after, d_before + 1);
        let bad = AnalyticsSettings {
            time_zone: "Mars/Olympus".into(),
            ..AnalyticsSettings::default()
        };
        assert!(due_day(&bad, after).is_none() && problem(&bad).is_some());
    }
}
