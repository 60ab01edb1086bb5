//! Probe slots: the engine's bound on the probes of open ports that are doing work at once.
//!
//! The engine hands every open port to its probe together with one of `concurrency / 2` slots.
//! Most probes talk on that one connection and give the slot back when they end. Some must wait
//! between two connections to the same service (the DICOM probe's politeness gap before its
//! extra associations); a probe that sleeps while holding its slot makes the scan go in waves
//! of mostly sleeping. So the slot is a value the probe owns, a [`Slot`], and
//! [`Slot::pause`] lends it back for the pause and takes it again afterwards: the limit counts
//! probes that work, not probes that wait. A paused probe holds no socket either (the probe
//! closes its connections before it pauses), so `concurrency` stays a budget of sockets.
//!
//! Time spent waiting to get the slot back belongs to the scan, not to the probe: on a busy
//! scan it can be long, and counting it would turn a healthy service into a false `timeout`.
//! The [`WaitClock`] a slot shares with the engine keeps it apart; the engine's safety net
//! (`probe_timeout`) does not count it, and [`Slot::pause`] returns it so the probe can move
//! its own budget by as much. The pause itself (the politeness gap) is the probe's time, as
//! before. A stop given during a pause, or while waiting for the slot, ends the pause at once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::engine::StopSignal;

/// One probe's share of the engine's probe slots, lent back while the probe pauses.
#[derive(Debug)]
pub struct Slot {
    /// Held while the probe works; `None` during a pause, and always for an unbounded slot.
    permit: Option<OwnedSemaphorePermit>,
    /// The engine's slots; `None` outside a scan.
    pool: Option<Arc<Semaphore>>,
    stop: StopSignal,
    clock: Arc<WaitClock>,
}

/// How a pause ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The probe has its slot again; `waited` is how long it queued for it after the gap.
    Resumed { waited: Duration },
    /// The scan is stopping: the probe should return what it has, without another connection.
    Stopped,
}

impl Slot {
    /// A slot of no pool, for probes run outside a scan: a pause is a plain sleep that `stop`
    /// cuts short.
    pub fn unbounded(stop: StopSignal) -> Slot {
        Slot {
            permit: None,
            pool: None,
            stop,
            clock: Arc::default(),
        }
    }

    /// The engine's slot for one probe: `permit` was taken from `pool`; `clock` is read by the
    /// engine's safety net.
    pub(crate) fn held(
        permit: OwnedSemaphorePermit,
        pool: Arc<Semaphore>,
        stop: StopSignal,
        clock: Arc<WaitClock>,
    ) -> Slot {
        Slot {
            permit: Some(permit),
            pool: Some(pool),
            stop,
            clock,
        }
    }

    /// Waits `gap` without holding the slot, then takes the slot again. A zero gap keeps the
    /// slot and does not wait. The caller must not hold a socket across the pause.
    pub async fn pause(&mut self, gap: Duration) -> Resume {
        if self.stop.is_stopped() {
            return Resume::Stopped;
        }
        if gap.is_zero() {
            return Resume::Resumed {
                waited: Duration::ZERO,
            };
        }
        drop(self.permit.take());
        tokio::select! {
            _ = tokio::time::sleep(gap) => {}
            _ = self.stop.stopped() => return Resume::Stopped,
        }
        let Some(pool) = &self.pool else {
            return Resume::Resumed {
                waited: Duration::ZERO,
            };
        };
        let waiting = self.clock.start(Instant::now());
        let permit = tokio::select! {
            permit = Arc::clone(pool).acquire_owned() => permit,
            _ = self.stop.stopped() => return Resume::Stopped,
        };
        match permit {
            Ok(permit) => {
                self.permit = Some(permit);
                Resume::Resumed {
                    waited: waiting.end(Instant::now()),
                }
            }
            // The engine never closes its semaphore; if it did, the scan is over.
            Err(_) => Resume::Stopped,
        }
    }

    /// How long this probe has waited, in all, to get its slot back.
    pub fn waited(&self) -> Duration {
        self.clock.waited(Instant::now())
    }
}

/// Time a probe spent waiting for its slot, shared between the probe's [`Slot`] and the engine.
#[derive(Debug, Default)]
pub(crate) struct WaitClock {
    state: Mutex<WaitState>,
}

#[derive(Debug, Default)]
struct WaitState {
    /// Finished waits.
    total: Duration,
    /// Start of the wait in progress.
    since: Option<Instant>,
}

impl WaitClock {
    /// Everything waited up to `now`, the wait in progress included.
    pub(crate) fn waited(&self, now: Instant) -> Duration {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.total
            + state
                .since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }

    fn start(&self, now: Instant) -> Waiting<'_> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .since = Some(now);
        Waiting { clock: self }
    }
}

/// A wait in progress; ended by [`Waiting::end`] or, when the pause is cut short, on drop.
struct Waiting<'c> {
    clock: &'c WaitClock,
}

impl Waiting<'_> {
    /// Ends the wait at `now` and returns its length.
    fn end(self, now: Instant) -> Duration {
        let mut state = self
            .clock
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let waited = state
            .since
            .take()
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        state.total += waited;
        waited
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self
            .clock
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = state.since.take() {
            state.total += Instant::now().saturating_duration_since(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_of_one() -> (Arc<Semaphore>, Slot, Arc<WaitClock>) {
        let pool = Arc::new(Semaphore::new(1));
        let permit = Arc::clone(&pool).try_acquire_owned().unwrap();
        let clock = Arc::new(WaitClock::default());
        let slot = Slot::held(
            permit,
            Arc::clone(&pool),
            StopSignal::new(),
            Arc::clone(&clock),
        );
        (pool, slot, clock)
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_lends_the_slot_and_counts_only_the_wait_for_it() {
        let (pool, mut slot, clock) = pool_of_one();
        assert_eq!(pool.available_permits(), 0);
        let pause = tokio::spawn(async move {
            let resumed = slot.pause(Duration::from_millis(100)).await;
            (resumed, slot)
        });
        // During the gap the slot is free: someone else takes it and works for 5 s.
        let other = Arc::clone(&pool).acquire_owned().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        // The paused probe is queued for it now: its wait is counted as it goes.
        let so_far = clock.waited(Instant::now());
        assert_eq!(so_far, Duration::from_millis(4900));
        drop(other);
        let (resumed, slot) = pause.await.unwrap();
        assert_eq!(
            resumed,
            Resume::Resumed {
                waited: Duration::from_millis(4900)
            }
        );
        assert_eq!(slot.waited(), Duration::from_millis(4900));
        assert_eq!(
            pool.available_permits(),
            0,
            "the probe holds its slot again"
        );
        drop(slot);
        assert_eq!(pool.available_permits(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_pause_keeps_the_slot() {
        let (pool, mut slot, _) = pool_of_one();
        assert_eq!(
            slot.pause(Duration::ZERO).await,
            Resume::Resumed {
                waited: Duration::ZERO
            }
        );
        assert_eq!(pool.available_permits(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_a_pause_in_its_gap_or_in_the_queue() {
        // In the gap.
        let stop = StopSignal::new();
        let mut slot = Slot::unbounded(stop.clone());
        let pause = tokio::spawn(async move { slot.pause(Duration::from_secs(3600)).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.stop();
        assert_eq!(pause.await.unwrap(), Resume::Stopped);

        // In the queue for the slot, which someone else holds for good.
        let pool = Arc::new(Semaphore::new(1));
        let permit = Arc::clone(&pool).try_acquire_owned().unwrap();
        let stop = StopSignal::new();
        let clock = Arc::new(WaitClock::default());
        let mut slot = Slot::held(permit, Arc::clone(&pool), stop.clone(), Arc::clone(&clock));
        let pause = tokio::spawn(async move { slot.pause(Duration::from_millis(10)).await });
        let _other = Arc::clone(&pool).acquire_owned().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        stop.stop();
        assert_eq!(pause.await.unwrap(), Resume::Stopped);
        // The cut-short wait is on the clock, and it no longer grows.
        let waited = clock.waited(Instant::now());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(clock.waited(Instant::now()), waited);
        assert!(waited >= Duration::from_secs(59), "{waited:?}");

        // Already stopped: no pause at all.
        let mut slot = Slot::unbounded(stop);
        assert_eq!(slot.pause(Duration::from_secs(1)).await, Resume::Stopped);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unbounded_slot_sleeps_the_gap() {
        let mut slot = Slot::unbounded(StopSignal::new());
        let started = Instant::now();
        assert_eq!(
            slot.pause(Duration::from_millis(250)).await,
            Resume::Resumed {
                waited: Duration::ZERO
            }
        );
        assert_eq!(started.elapsed(), Duration::from_millis(250));
    }
}
