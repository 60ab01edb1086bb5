//! The discovery engine: connect to every (address, port) of one shard, probe what answers,
//! and emit exactly one [`ProbeResult`] per sequence number.
//!
//! Shape, and why:
//! * A fixed pool of worker tasks pulls sequence numbers from one atomic counter. No task per
//!   probe, no queue of work items, no lock on the hot path: a claimed number is mapped to an
//!   (address, port) through the [`ShardPlan`] permutation on the spot.
//!   Numbers already in the resume [`Checkpoint`] are skipped without touching the network.
//! * Every connection attempt passes the rate limiter (governor's GCRA, with a burst of
//!   1/100 s of the rate so the flow stays smooth). Waiters queue on a fair async mutex, so
//!   exactly one task sleeps on the limiter at a time instead of all of them waking together.
//! * A connect is a non-blocking `TcpSocket::connect` under a timeout; only timeouts are
//!   retried. Open sockets get `SO_LINGER` zero, so closing them sends a reset and leaves no
//!   `TIME_WAIT` behind, which matters at tens of thousands of connections per second.
//! * An open port is handed to its probe in a separate task bounded by a semaphore, so slow
//!   or hostile banner servers cannot stall discovery. The probe runs under a hard deadline
//!   and a panic guard (in its task, not a second one: a task per probe is a measurable share
//!   of a probe's CPU), so even a panicking or hanging probe yields its one result.
//! * The probe owns its connection and its semaphore permit, as a [`Slot`]: a probe that must
//!   wait between two connections to one service closes its sockets and lends the slot back
//!   for the pause, so the slots count probes at work, not probes asleep. Time spent queueing
//!   to get the slot back is not counted against the hard deadline (see [`crate::slot`]).
//! * `concurrency` is a budget of sockets, because the open-file limit is what bounds it: half
//!   goes to discovery workers, half to probes of open ports (a paused probe holds none). A
//!   silent service holds its probe slot for the whole read timeout, so probes need as large a
//!   share as discovery does (on a loopback /16 with 500 silent listeners, a quarter made the
//!   probes the bottleneck).
//! * Stop (Ctrl-C) or a closed output channel stops the taking of new numbers; probes in flight
//!   finish and are reported. The engine never prints: results go to the channel, totals to the
//!   returned [`ScanSummary`], per-target failures are outcomes, and only failures of the
//!   whole run are a [`ScanError`].

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use medsurface_model::{
    Checkpoint, Observation, Outcome, OutcomeCounts, ProbeResult, Shard, Source, Timestamp,
    Transport,
};
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use crate::dialer::Dialer;
use crate::outcome::classify_io_error;
use crate::probes::{ProbeContext, ProbeFuture, ProbeOutput};
use crate::slot::{Slot, WaitClock};
use crate::space::{ProbeSpace, ShardError, ShardPlan};

/// How often, at most, the safety net looks again at a probe that queues for its slot past
/// its deadline (the deadline moves with the queueing).
const DEADLINE_RECHECK: Duration = Duration::from_millis(50);

/// Largest shard one run accepts: the work counter is a `u64`, kept well clear of wrapping.
const MAX_SHARD_LEN: u64 = 1 << 62;

/// How fast connection attempts may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// At most this many attempts per second.
    PerSecond(NonZeroU32),
    /// As fast as the machine goes (loopback tests and lab networks only).
    Unlimited,
}

/// Everything the engine needs to know besides the space, the checkpoint and the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanConfig {
    pub rate: RateLimit,
    /// Sockets open at once, at most: half for connection attempts (worker tasks), half for
    /// probes of open ports (at least one of each). Keep it below the open-file limit.
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// Extra attempts after a timeout (never after a refusal or any other answer).
    pub retries: u8,
    pub probe: ProbeContext,
    pub seed: u64,
    pub shard: Shard,
}

impl Default for ScanConfig {
    fn default() -> ScanConfig {
        ScanConfig {
            rate: RateLimit::PerSecond(NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN)),
            concurrency: 512,
            connect_timeout: Duration::from_secs(2),
            retries: 1,
            probe: ProbeContext::default(),
            seed: 0,
            shard: Shard::WHOLE,
        }
    }
}

/// A cheap, clonable switch to stop a scan (the CLI flips it on Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct StopSignal {
    inner: Arc<StopInner>,
}

#[derive(Debug, Default)]
struct StopInner {
    stopped: AtomicBool,
    notify: Notify,
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Asks every scan holding a clone of this signal to stop taking new probes.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Completes once [`StopSignal::stop`] has been called.
    pub async fn stopped(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// Why the engine returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every sequence number of the shard has a result or was in the checkpoint.
    Completed,
    /// The stop signal was given; resumable.
    Stopped,
    /// The receiver of results went away.
    OutputClosed,
}

/// Totals of one run of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    /// Results delivered to the output channel, by outcome.
    pub counts: OutcomeCounts,
    /// Sequence numbers skipped because the checkpoint had them.
    pub skipped: u64,
    /// Probes in this shard.
    pub shard_len: u128,
    pub end: ScanEnd,
    pub elapsed: Duration,
}

/// Failures of the whole run (per-target failures are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot plan the shard")]
    Plan(#[from] ShardError),
    #[error("the shard holds {len} probes; one run handles at most 2^62")]
    ShardTooLarge { len: u128 },
    #[error("concurrency must be at least 1")]
    NoConcurrency,
    #[error("a scan task failed")]
    Task {
        #[source]
        source: JoinError,
    },
}

/// Why the open-file limit could not be raised.
#[derive(Debug, thiserror::Error)]
pub enum NofileError {
    #[error("cannot read the open-file limit")]
    Read {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot raise the open-file limit to {wanted}")]
    Raise {
        wanted: u64,
        #[source]
        source: std::io::Error,
    },
}

/// Raises the soft open-file limit to `min(hard, wanted)` and returns the soft limit now in
/// force (never lowers it). The CLI caps `concurrency` to this minus some headroom.
#[cfg(unix)]
pub fn raise_nofile_limit(wanted: u64) -> Result<u64, NofileError> {
    let resource = rlimit::Resource::NOFILE;
    let (soft, hard) = resource
        .get()
        .map_err(|source| NofileError::Read { source })?;
    let target = wanted.min(hard);
    if target <= soft {
        return Ok(soft);
    }
    resource
        .set(target, hard)
        .map_err(|source| NofileError::Raise { wanted, source })?;
    Ok(target)
}

/// Other platforms have no per-process descriptor limit of this kind.
#[cfg(not(unix))]
pub fn raise_nofile_limit(wanted: u64) -> Result<u64, NofileError> {
    Ok(wanted)
}

/// The links between a running scan and its caller: where results go, and how to stop it.
#[derive(Debug, Clone)]
pub struct ScanChannels {
    /// One result per probed sequence number. Receive it from a task on the scan's runtime
    /// (`tokio::spawn`), not on the thread that called `block_on`: a receiver outside the
    /// worker threads is woken through a futex for nearly every result (on the loopback
    /// benchmark: 60 times more context switches and 60% more time).
    pub results: mpsc::Sender<ProbeResult>,
    pub stop: StopSignal,
}

/// Scans one shard of `space`, sending one result per sequence number not in `skip`.
///
/// Returns when every number is done, when the stop signal is given, or when the results
/// channel is closed; in the last two cases numbers not yet attempted get no result (they stay
/// undone in a checkpoint), while connections already in flight finish and are reported.
pub async fn run_scan(
    space: Arc<ProbeSpace>,
    config: ScanConfig,
    skip: Checkpoint,
    channels: ScanChannels,
) -> Result<ScanSummary, ScanError> {
    let ScanChannels { results: out, stop } = channels;
    let started = Instant::now();
    if config.concurrency == 0 {
        return Err(ScanError::NoConcurrency);
    }
    let plan = ShardPlan::new(space.len(), config.shard, config.seed)?;
    let shard_len = plan.shard_len();
    let len = u64::try_from(shard_len)
        .ok()
        .filter(|&l| l <= MAX_SHARD_LEN)
        .ok_or(ScanError::ShardTooLarge { len: shard_len })?;
    let probe_slots = (config.concurrency / 2).max(1);
    let workers = (config.concurrency.saturating_sub(probe_slots).max(1) as u64).min(len);
    // Probes' follow-up connections pass the same rate limiter as the engine's own.
    let pacer = Arc::new(Pacer::new(config.rate));
    let mut probe = config.probe;
    probe.dialer = Dialer::paced(Arc::clone(&pacer), config.connect_timeout, stop.clone());
    let shared = Arc::new(Shared {
        space,
        plan,
        skip,
        next: AtomicU64::new(0),
        len,
        pacer,
        connect_timeout: config.connect_timeout,
        max_attempts: config.retries.saturating_add(1),
        probe_slots: Arc::new(Semaphore::new(probe_slots)),
        probe: Arc::new(probe),
        out,
        stop,
        output_closed: AtomicBool::new(false),
    });

    let mut pool = JoinSet::new();
    for _ in 0..workers {
        pool.spawn(worker(Arc::clone(&shared)));
    }
    let mut tally = Tally::default();
    let mut failure = None;
    while let Some(joined) = pool.join_next().await {
        match joined {
            Ok(Ok(t)) => tally.merge(&t),
            Ok(Err(source)) | Err(source) => failure = failure.or(Some(source)),
        }
    }
    if let Some(source) = failure {
        return Err(ScanError::Task { source });
    }
    let done = u128::from(tally.counts.total()) + u128::from(tally.skipped);
    let end = if done == shard_len {
        ScanEnd::Completed
    } else if shared.output_closed.load(Ordering::Relaxed) {
        ScanEnd::OutputClosed
    } else {
        ScanEnd::Stopped
    };
    Ok(ScanSummary {
        counts: tally.counts,
        skipped: tally.skipped,
        shard_len,
        end,
        elapsed: started.elapsed(),
    })
}

/// State shared by the workers of one run; read-only except for the atomics.
struct Shared {
    space: Arc<ProbeSpace>,
    plan: ShardPlan,
    skip: Checkpoint,
    next: AtomicU64,
    len: u64,
    pacer: Arc<Pacer>,
    connect_timeout: Duration,
    max_attempts: u8,
    probe_slots: Arc<Semaphore>,
    probe: Arc<ProbeContext>,
    out: mpsc::Sender<ProbeResult>,
    stop: StopSignal,
    output_closed: AtomicBool,
}

impl Shared {
    fn halted(&self) -> bool {
        self.stop.is_stopped() || self.output_closed.load(Ordering::Relaxed) || self.out.is_closed()
    }

    /// Sends one result; a closed channel halts the run.
    async fn deliver(&self, result: ProbeResult) -> bool {
        if self.out.send(result).await.is_ok() {
            true
        } else {
            self.output_closed.store(true, Ordering::Relaxed);
            false
        }
    }
}

/// What one worker did.
#[derive(Debug, Default)]
struct Tally {
    counts: OutcomeCounts,
    skipped: u64,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        self.counts.merge(&other.counts);
        self.skipped += other.skipped;
    }
}

/// One worker: claim a number, connect, report or hand the open socket to a probe; repeat.
async fn worker(shared: Arc<Shared>) -> Result<Tally, JoinError> {
    let mut tally = Tally::default();
    let mut probes: JoinSet<bool> = JoinSet::new();
    while !shared.halted() {
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        if seq >= shared.len {
            break;
        }
        let seq = u128::from(seq);
        if shared.skip.is_done(seq) {
            tally.skipped += 1;
            continue;
        }
        // Every seq below the shard length maps into the space (tested in space.rs).
        let Some((ip, port, name)) = shared.plan.position(seq).and_then(|p| shared.space.get(p))
        else {
            debug_assert!(false, "sequence number {seq} maps outside the probe space");
            continue;
        };
        let addr = SocketAddr::new(ip, port);
        let hostname = name.map(str::to_owned);
        match connect(&shared, addr).await {
            Connect::Stopped => break,
            Connect::Open {
                stream,
                attempts,
                rtt,
            } => {
                let job = OpenJob {
                    seq,
                    addr,
                    hostname,
                    stream,
                    attempts,
                    rtt,
                };
                let Ok(permit) = Arc::clone(&shared.probe_slots).acquire_owned().await else {
                    // The semaphore is never closed; treat it as a stop if it ever is.
                    break;
                };
                probes.spawn(finish_open(Arc::clone(&shared), job, permit));
                while let Some(done) = probes.try_join_next() {
                    if done? {
                        tally.counts.add(Outcome::Open);
                    }
                }
            }
            Connect::Done {
                outcome,
                attempts,
                rtt,
                reason,
            } => {
                let result = ProbeResult {
                    seq,
                    ip,
                    port,
                    hostname,
                    outcome,
                    attempts,
                    rtt_us: rtt.map(micros),
                    reason,
                    observation: None,
                    classification: None,
                };
                if !shared.deliver(result).await {
                    break;
                }
                tally.counts.add(outcome);
            }
        }
    }
    while let Some(done) = probes.join_next().await {
        if done? {
            tally.counts.add(Outcome::Open);
        }
    }
    Ok(tally)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// An open connection waiting for its probe.
struct OpenJob {
    seq: u128,
    addr: SocketAddr,
    hostname: Option<String>,
    stream: TcpStream,
    attempts: u8,
    rtt: Duration,
}

/// A probe's future, polled in place with a panic turned into `Err` (as a task's join would
/// report it). Once it has panicked it is never polled again, only dropped.
struct CatchPanic<'a>(ProbeFuture<'a>);

impl Future for CatchPanic<'_> {
    type Output = std::thread::Result<ProbeOutput>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let run = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Runs the probe for an open port and delivers its result. Returns whether it was delivered.
///
/// A probe that panics or outlives `probe_timeout` still yields its open result, with the
/// detail `probe.error` set to `panicked` or `timeout` and nothing else from the probe.
///
/// The deadline is `probe_timeout` of the probe's own time: time it spent queueing for its slot
/// after a pause ([`Slot::pause`]) moves the deadline by as much.
async fn finish_open(shared: Arc<Shared>, job: OpenJob, permit: OwnedSemaphorePermit) -> bool {
    let probe = shared.probe.probe_for(job.addr.port());
    let ctx = Arc::clone(&shared.probe);
    let limit = ctx.probe_timeout;
    let clock = Arc::new(WaitClock::default());
    let slot = Slot::held(
        permit,
        Arc::clone(&shared.probe_slots),
        shared.stop.clone(),
        Arc::clone(&clock),
    );
    // The probe closes the stream (zero linger: a reset, no TIME_WAIT here) and gives the slot
    // back when it is done with them, at the latest when it ends or is dropped.
    let mut run = CatchPanic(probe.run_in_slot(job.stream, slot, &ctx));
    let started = Instant::now();
    let mut deadline = started + limit;
    let output = loop {
        match tokio::time::timeout_at(deadline, &mut run).await {
            Ok(Ok(output)) => break output,
            Ok(Err(_)) => break failed_probe("panicked"),
            Err(_) => {
                let now = Instant::now();
                let moved = started + limit + clock.waited(now);
                if moved <= now {
                    break failed_probe("timeout");
                }
                // It queued for its slot meanwhile. While it still queues the deadline keeps
                // moving, so look again after a while rather than at every tick.
                deadline = moved.max(now + DEADLINE_RECHECK);
            }
        }
    };
    drop(run); // cut off past its deadline: its sockets close and its slot is free now
    let (ip, port) = (job.addr.ip(), job.addr.port());
    let observation = Observation {
        ip,
        port,
        transport: Transport::Tcp,
        hostname: job.hostname.clone(),
        protocol: output.protocol,
        probe: probe.name().to_string(),
        source: Source::Scan,
        seen_at: Timestamp::now(),
        details: output.details,
    };
    let result = ProbeResult {
        seq: job.seq,
        ip,
        port,
        hostname: job.hostname,
        outcome: Outcome::Open,
        attempts: job.attempts,
        rtt_us: Some(micros(job.rtt)),
        reason: None,
        observation: Some(observation),
        classification: None,
    };
    shared.deliver(result).await
}

fn failed_probe(why: &str) -> ProbeOutput {
    let mut output = ProbeOutput::default();
    output
        .details
        .insert("probe.error".into(), Value::String(why.into()));
    output
}

/// How the connection attempts for one probe ended.
enum Connect {
    /// Stopped before the first attempt: no result for this number.
    Stopped,
    Open {
        stream: TcpStream,
        attempts: u8,
        rtt: Duration,
    },
    Done {
        outcome: Outcome,
        attempts: u8,
        rtt: Option<Duration>,
        reason: Option<String>,
    },
}

/// How one attempt ended.
enum Attempt {
    Connected(TcpStream),
    Failed(std::io::Error),
    TimedOut,
}

async fn connect(shared: &Shared, addr: SocketAddr) -> Connect {
    let mut attempts: u8 = 0;
    loop {
        if shared.pacer.ready(&shared.stop).await == Pace::Stopped {
            if attempts == 0 {
                return Connect::Stopped;
            }
            return Connect::Done {
                outcome: Outcome::Filtered,
                attempts,
                rtt: None,
                reason: None,
            };
        }
        attempts += 1;
        let started = Instant::now();
        let retry = attempts < shared.max_attempts && !shared.halted();
        match attempt(addr, shared.connect_timeout).await {
            Attempt::Connected(stream) => {
                return Connect::Open {
                    stream,
                    attempts,
                    rtt: started.elapsed(),
                }
            }
            Attempt::TimedOut if retry => continue,
            Attempt::TimedOut => {
                return Connect::Done {
                    outcome: Outcome::Filtered,
                    attempts,
                    rtt: None,
                    reason: None,
                }
            }
            Attempt::Failed(err) => {
                let classified = classify_io_error(&err);
                if classified.outcome == Outcome::Filtered && retry {
                    continue;
                }
                // Refusals and ICMP errors are answers from the network: they have a time.
                let answered = matches!(classified.outcome, Outcome::Closed | Outcome::Unreachable);
                return Connect::Done {
                    outcome: classified.outcome,
                    attempts,
                    rtt: answered.then(|| started.elapsed()),
                    reason: classified.reason.map(|r| r.into_owned()),
                };
            }
        }
    }
}

async fn attempt(addr: SocketAddr, limit: Duration) -> Attempt {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let socket = match socket {
        Ok(socket) => socket,
        Err(err) => return Attempt::Failed(err),
    };
    match tokio::time::timeout(limit, socket.connect(addr)).await {
        Err(_) => Attempt::TimedOut,
        Ok(Err(err)) => Attempt::Failed(err),
        Ok(Ok(stream)) => {
            // Best effort: without it the close is a FIN instead of a reset, nothing worse.
            let _ = stream.set_zero_linger();
            Attempt::Connected(stream)
        }
    }
}

/// Whether a worker may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    Go,
    Stopped,
}

/// The rate limiter in front of every connection attempt.
pub(crate) enum Pacer {
    Unlimited,
    Limited {
        limiter: DefaultDirectRateLimiter,
        /// Fair queue: one task at a time waits on the limiter, the rest wait their turn here.
        queue: tokio::sync::Mutex<()>,
    },
}

impl Pacer {
    pub(crate) fn new(rate: RateLimit) -> Pacer {
        match rate {
            RateLimit::Unlimited => Pacer::Unlimited,
            RateLimit::PerSecond(rate) => {
                let burst = NonZeroU32::new(rate.get() / 100).unwrap_or(NonZeroU32::MIN);
                Pacer::Limited {
                    limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
                    queue: tokio::sync::Mutex::new(()),
                }
            }
        }
    }

    pub(crate) async fn ready(&self, stop: &StopSignal) -> Pace {
        let Pacer::Limited { limiter, queue } = self else {
            return Pace::Go;
        };
        let _turn = queue.lock().await;
        loop {
            if stop.is_stopped() {
                return Pace::Stopped;
            }
            match limiter.check() {
                Ok(()) => return Pace::Go,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(limiter.clock().now());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.stopped() => return Pace::Stopped,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_limit_is_raised_but_never_lowered() {
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        assert_eq!(raise_nofile_limit(1).unwrap(), soft);
        let wanted = soft.saturating_add(16).min(hard);
        let now = raise_nofile_limit(wanted).unwrap();
        assert!(
            now >= wanted.min(hard) && now >= soft,
            "{now} {soft} {hard}"
        );
        assert_eq!(rlimit::Resource::NOFILE.get().unwrap().0, now);
    }

    #[tokio::test]
    async fn a_panicking_probe_is_an_error_not_a_crash() {
        let fine: ProbeFuture<'static> = Box::pin(async {
            tokio::task::yield_now().await;
            ProbeOutput::default()
        });
        assert_eq!(CatchPanic(fine).await.unwrap(), ProbeOutput::default());
        let bad: ProbeFuture<'static> = Box::pin(async {
            tokio::task::yield_now().await;
            if std::hint::black_box(true) {
                panic!("a probe bug");
            }
            ProbeOutput::default()
        });
        let err = CatchPanic(bad).await.unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"a probe bug"));
    }

    #[tokio::test]
    async fn stop_signal_wakes_waiters() {
        let stop = StopSignal::new();
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.stopped().await }
        });
        assert!(!stop.is_stopped());
        stop.stop();
        waiter.await.unwrap();
        assert!(stop.is_stopped());
        stop.stopped().await; // already stopped: returns at once
    }

    #[tokio::test]
    async fn pacer_holds_the_rate_and_yields_to_stop() {
        // 200/s with a burst of 2: 62 passes need at least 60 / 200 s = 300 ms.
        let pacer = Pacer::new(RateLimit::PerSecond(NonZeroU32::new(200).unwrap()));
        let stop = StopSignal::new();
        let start = std::time::Instant::now();
        for _ in 0..62 {
            assert_eq!(pacer.ready(&stop).await, Pace::Go);
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(280), "{elapsed:?}");
        stop.stop();
        assert_eq!(pacer.ready(&stop).await, Pace::Stopped);
        let unlimited = Pacer::new(RateLimit::Unlimited);
        assert_eq!(unlimited.ready(&stop).await, Pace::Go);
    }
}
