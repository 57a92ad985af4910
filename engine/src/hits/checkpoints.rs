//! Checkpoints of the SQLite WAL beside the hit writer.

use super::{Pending, Shared};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the SQLite WAL is checkpointed while hits are being written.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The WAL length (4 KiB frames, so 32 MiB) past which the SQLite writer restarts it.
pub(super) const RESTART_FRAMES: i64 = 8192;

/// The restart copies what the passive checkpoints have not and syncs the database file while
/// the requests wait, so it should find little left: past [`RESTART_FRAMES`], passive
/// checkpoints run back to back until the writer added fewer than this many frames during one
/// (or [`CATCH_UP_PASSES`] have run), and only then is the writer asked to restart.
const TAIL_FRAMES: i64 = 512;
const CATCH_UP_PASSES: u32 = 8;

/// Checkpoints the SQLite WAL every [`CHECKPOINT_EVERY`] while batches are being written, until
/// the writer is gone. A passive checkpoint copies pages without stopping the writer. It cannot
/// shorten the WAL while writes keep coming, so once the WAL is long the writer is asked to
/// restart it itself between two batches, after the passive checkpoints have caught up: only
/// the frames added since the last of them remain to copy, and the writer never waits on a lock
/// for it.
pub(super) async fn checkpoints(
    pool: sqlx::SqlitePool,
    writer: mpsc::WeakSender<Pending>,
    shared: Arc<Shared>,
) {
    let mut seen = shared.batches.load(Ordering::Relaxed);
    // While catching up: the WAL's length at the previous pass, and the passes so far.
    let mut catching_up: Option<(i64, u32)> = None;
    loop {
        if catching_up.is_none() {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
        if writer.upgrade().is_none() {
            return;
        }
        let now = shared.batches.load(Ordering::Relaxed);
        if now == seen && catching_up.is_none() {
            continue;
        }
        seen = now;
        // (busy, frames in the WAL, frames copied)
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok((_, frames, _)) if frames >= RESTART_FRAMES => {
                catching_up = match catching_up {
                    Some((before, passes))
                        if (0..TAIL_FRAMES).contains(&(frames - before))
                            || passes >= CATCH_UP_PASSES =>
                    {
                        shared.restart_wal.store(true, Ordering::Release);
                        None
                    }
                    Some((_, passes)) => Some((frames, passes + 1)),
                    None => Some((frames, 1)),
                };
            }
            Ok(_) => catching_up = None,
            Err(e) => {
                catching_up = None;
                tracing::warn!(error = %e, "checkpointing the database failed");
            }
        }
    }
}
