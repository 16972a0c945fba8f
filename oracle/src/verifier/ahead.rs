//! Checking proofs of coverage ahead of their judging ([`poc::check`] on another thread).
//!
//! A run of due proofs of coverage is checked on the [`Checker`]'s thread while the verifier
//! judges the ones already checked, stores verdicts and refreshes density and trust
//! ([`Verifier::close_run`](super::Verifier)). While a restart backlog is verified, a refresh
//! (which only the verifier's task can do, and by whose end the checks of its window are done
//! or soon done) then starts the checks of the next window, if it has been read: those proofs
//! of coverage are paired as the verifier will pair them ([`Speculation`]), checked, and each
//! result is used only if the proof of coverage is closed with exactly the reports it was
//! checked with, under the same parameters, entropy and denylist; anything else is checked
//! again. They start after the trust evaluation, whose peak of memory their results would
//! add to.

use super::Pending;
use super::denylist::Denylist;
use super::params::VerifierParams;
use super::poc::{Checked, EntropyInfo, Inputs, Received, check};
use crate::registry::Registry;
use schemas::proto::{BeaconReport, WitnessReport};
use std::collections::HashMap;
use std::sync::Arc;

/// The one thread the checks run on, in the order they are handed over, for as long as the
/// verifier lives. One long-lived thread, not a blocking thread per run: glibc gives every new
/// thread that allocates a malloc arena of its own (up to 8 per core) and keeps what is freed
/// there, which cost the full day 128 MiB of resident memory with two blocking threads.
pub(super) struct Checker {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

/// What a job handed to the [`Checker`] returned, or its panic.
pub(super) type Done<T> = tokio::sync::oneshot::Receiver<std::thread::Result<T>>;

impl Checker {
    /// Starts the thread.
    pub fn start() -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("verifier-checks".into())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `job` on the thread after those handed over before it; a panic in it is caught
    /// and returned (the thread goes on).
    pub fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Done<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job = move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            let _ = done.send(outcome);
        };
        if let Err(std::sync::mpsc::SendError(job)) = self.jobs.send(Box::new(job)) {
            // The thread is gone (it cannot be: jobs catch their panics); run it here.
            job();
        }
        result
    }
}

/// What [`check`] reads, taken from the verifier when checks start.
#[derive(Clone)]
pub(super) struct Ahead {
    pub params: Arc<VerifierParams>,
    pub registry: Registry,
    pub entropy: Arc<HashMap<Vec<u8>, EntropyInfo>>,
    pub denylist: Arc<Denylist>,
}

impl Ahead {
    /// Checks a pending proof of coverage (`None` without a beacon).
    pub fn check(&self, pending: &Pending) -> Option<Checked> {
        let beacon = pending.beacon.as_ref()?;
        Some(self.check_with(beacon, &pending.witnesses))
    }

    fn check_with(
        &self,
        beacon: &Received<BeaconReport>,
        witnesses: &[Received<WitnessReport>],
    ) -> Checked {
        self.registry.with(|hotspots| {
            let inputs = Inputs {
                params: &self.params,
                hotspots,
                entropy: &self.entropy,
                denylist: &self.denylist,
            };
            check(beacon, witnesses, &inputs)
        })
    }

    /// Whether checks taken with `self` hold for a verifier whose inputs are `now` (the
    /// hotspots are read as they are whenever a check runs, ahead or not).
    pub fn same_as(&self, now: &Ahead) -> bool {
        Arc::ptr_eq(&self.entropy, &now.entropy)
            && Arc::ptr_eq(&self.denylist, &now.denylist)
            && (Arc::ptr_eq(&self.params, &now.params) || self.params == now.params)
    }
}

/// A pending proof of coverage as the verifier holds it: its beacon (if any) and its
/// witnesses, in the order they were added.
pub(super) struct Early {
    pub beacon: Option<Received<BeaconReport>>,
    pub witnesses: Vec<Received<WitnessReport>>,
}

impl Early {
    /// A copy of what is pending.
    pub fn of(pending: &Pending) -> Self {
        Self {
            beacon: pending.beacon.clone(),
            witnesses: pending.witnesses.clone(),
        }
    }
}

/// The next window's reports and what the verifier already holds of the proofs of coverage
/// they complete, to be checked before the window is closed.
pub(super) struct Speculation {
    /// The verifier's inputs (kept, so that a change made after is seen: see [`Ahead::same_as`]).
    pub ahead: Ahead,
    /// The window's beacons, then its witnesses, in the order the verifier will add them.
    pub beacons: Arc<Vec<Received<BeaconReport>>>,
    pub witnesses: Arc<Vec<Received<WitnessReport>>>,
    /// Pending proofs of coverage by payload: those with a beacon, and those the window's
    /// beacons complete.
    pub early: HashMap<Vec<u8>, Early>,
    /// A proof of coverage is checked if its beacon is closed by `closes_by_ms` (received
    /// `window_ms` before it) in `epoch`.
    pub window_ms: u64,
    pub closes_by_ms: u64,
    pub epoch: u64,
}

/// A check made ahead: the witnesses it was made with, by id in order, and its result.
pub(super) struct Speculated {
    pub witness_ids: Vec<[u8; 32]>,
    pub checked: Checked,
}

/// Checks made ahead by beacon id, with the inputs they were made with.
pub(super) struct SpeculatedChecks {
    pub ahead: Ahead,
    pub closes_by_ms: u64,
    pub by_beacon: HashMap<[u8; 32], Speculated>,
}

impl SpeculatedChecks {
    /// The check made ahead for `pending`, if it was made with exactly its reports.
    pub fn take(&mut self, pending: &Pending) -> Option<Checked> {
        let beacon = pending.beacon.as_ref()?;
        let made = self.by_beacon.remove(&beacon.id)?;
        let same = made
            .witness_ids
            .iter()
            .eq(pending.witnesses.iter().map(|w| &w.id));
        same.then_some(made.checked)
    }
}

impl Speculation {
    /// Pairs the window's reports with what was pending as the verifier's `add` will, and
    /// checks every proof of coverage that will be closed with the window.
    pub fn check(self) -> SpeculatedChecks {
        let Speculation {
            ahead,
            beacons,
            witnesses,
            early,
            window_ms,
            closes_by_ms,
            epoch,
        } = self;
        // What each payload will hold, by reference: copies are made one proof of coverage at a
        // time, as it is checked.
        struct Paired<'a> {
            beacon: Option<&'a Received<BeaconReport>>,
            early: &'a [Received<WitnessReport>],
            window: Vec<&'a Received<WitnessReport>>,
        }
        let mut paired: HashMap<&[u8], Paired<'_>> = early
            .iter()
            .map(|(data, e)| {
                let pair = Paired {
                    beacon: e.beacon.as_ref(),
                    early: &e.witnesses,
                    window: Vec::new(),
                };
                (data.as_slice(), pair)
            })
            .collect();
        for beacon in beacons.iter() {
            let pair = paired
                .entry(beacon.report.data.as_slice())
                .or_insert_with(|| Paired {
                    beacon: None,
                    early: &[],
                    window: Vec::new(),
                });
            // A second beacon with the same payload is verified on its own: not ahead.
            if pair.beacon.is_none() {
                pair.beacon = Some(beacon);
            }
        }
        for witness in witnesses.iter() {
            if let Some(pair) = paired.get_mut(witness.report.data.as_slice())
                && !pair.early.iter().any(|w| w.id == witness.id)
                && !pair.window.iter().any(|w| w.id == witness.id)
            {
                pair.window.push(witness);
            }
        }
        let by_beacon = paired
            .into_values()
            .filter_map(|pair| {
                let beacon = pair.beacon?;
                let closes = beacon.received_ms.saturating_add(window_ms) <= closes_by_ms
                    && ahead.params.epoch_of(beacon.received_ms) == epoch;
                closes.then(|| {
                    let witnesses: Vec<Received<WitnessReport>> = pair
                        .early
                        .iter()
                        .chain(pair.window.iter().copied())
                        .cloned()
                        .collect();
                    let checked = ahead.check_with(beacon, &witnesses);
                    let witness_ids = witnesses.iter().map(|w| w.id).collect();
                    (
                        beacon.id,
                        Speculated {
                            witness_ids,
                            checked,
                        },
                    )
                })
            })
            .collect();
        SpeculatedChecks {
            ahead,
            closes_by_ms,
            by_beacon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beacon(id: u8, data: &[u8], received_ms: u64) -> Received<BeaconReport> {
        Received {
            id: [id; 32],
            received_ms,
            report: BeaconReport {
                data: data.to_vec(),
                hotspot_key: vec![id; 32],
                ..Default::default()
            },
        }
    }

    fn witness(id: u8, data: &[u8], received_ms: u64) -> Received<WitnessReport> {
        Received {
            id: [id; 32],
            received_ms,
            report: WitnessReport {
                data: data.to_vec(),
                hotspot_key: vec![id; 32],
                ..Default::default()
            },
        }
    }

    fn ahead() -> Ahead {
        Ahead {
            params: Arc::new(VerifierParams::default()),
            registry: Registry::default(),
            entropy: Arc::default(),
            denylist: Arc::default(),
        }
    }

    /// The next window (10:00 to 20:00 in seconds, proofs of coverage closed 2 s after their
    /// beacon): a beacon pending from the window before with a witness there (`a`), a payload
    /// whose witness came before its beacon (`b`), one paired inside the window (`c`), one not
    /// closed by the window's end (`d`), a second beacon with `c`'s payload, and a witness
    /// sent twice.
    fn speculation() -> Speculation {
        let early = HashMap::from([
            (
                b"a".to_vec(),
                Early {
                    beacon: Some(beacon(1, b"a", 9_000)),
                    witnesses: vec![witness(11, b"a", 9_500)],
                },
            ),
            (
                b"b".to_vec(),
                Early {
                    beacon: None,
                    witnesses: vec![witness(12, b"b", 9_900)],
                },
            ),
        ]);
        Speculation {
            ahead: ahead(),
            beacons: Arc::new(vec![
                beacon(2, b"b", 10_100),
                beacon(3, b"c", 11_000),
                beacon(4, b"d", 19_000),
                beacon(5, b"c", 11_500),
            ]),
            witnesses: Arc::new(vec![
                witness(13, b"a", 10_000),
                witness(14, b"c", 11_200),
                witness(15, b"b", 10_300),
                witness(14, b"c", 11_200),
                witness(16, b"d", 19_100),
                witness(17, b"e", 12_000),
            ]),
            early,
            window_ms: 2_000,
            closes_by_ms: 20_000,
            epoch: 0,
        }
    }

    fn pending(beacon: Received<BeaconReport>, witnesses: Vec<Received<WitnessReport>>) -> Pending {
        Pending {
            first_seen_ms: beacon.received_ms,
            beacon: Some(beacon),
            witnesses,
        }
    }

    #[test]
    fn checks_made_ahead_are_those_of_the_reports_the_verifier_will_close() {
        let mut made = speculation().check();
        // Closed by the window's end, first beacon of each payload: a, b and c; not d (closed
        // later) nor the second beacon of c (verified on its own).
        let mut ids: Vec<u8> = made.by_beacon.keys().map(|id| id[0]).collect();
        ids.sort();
        assert_eq!(ids, [1, 2, 3]);
        // As the verifier pairs them: what was pending first, then the window's in order,
        // each witness once.
        let a = pending(
            beacon(1, b"a", 9_000),
            vec![witness(11, b"a", 9_500), witness(13, b"a", 10_000)],
        );
        let b = pending(
            beacon(2, b"b", 10_100),
            vec![witness(12, b"b", 9_900), witness(15, b"b", 10_300)],
        );
        let c = pending(beacon(3, b"c", 11_000), vec![witness(14, b"c", 11_200)]);
        for p in [&a, &b, &c] {
            assert_eq!(made.take(p), ahead().check(p));
            assert!(made.take(p).is_none(), "each is taken once");
        }
        assert!(made.by_beacon.is_empty());
    }

    #[test]
    fn a_check_made_with_other_reports_is_not_used() {
        let closed = [
            // A witness fewer (one lost as stale before the window was added).
            pending(beacon(2, b"b", 10_100), vec![witness(15, b"b", 10_300)]),
            // A witness more.
            pending(
                beacon(3, b"c", 11_000),
                vec![witness(14, b"c", 11_200), witness(18, b"c", 11_300)],
            ),
            // The same witnesses in another order (the checks index them by position).
            pending(
                beacon(1, b"a", 9_000),
                vec![witness(13, b"a", 10_000), witness(11, b"a", 9_500)],
            ),
            // A beacon never checked ahead.
            pending(beacon(4, b"d", 19_000), vec![witness(16, b"d", 19_100)]),
        ];
        let mut made = speculation().check();
        for p in &closed {
            assert_eq!(
                made.take(p),
                None,
                "{:?}",
                p.beacon.as_ref().map(|b| b.id[0])
            );
        }
    }

    #[test]
    fn checks_made_with_other_inputs_are_not_used() {
        let now = ahead();
        let made = Speculation {
            ahead: now.clone(),
            ..speculation()
        }
        .check();
        assert!(made.ahead.same_as(&now));
        let mut params = (*now.params).clone();
        assert!(made.ahead.same_as(&Ahead {
            params: Arc::new(params.clone()),
            ..now.clone()
        }));
        params.max_witnesses_per_poc += 1;
        let changed = [
            Ahead {
                params: Arc::new(params),
                ..now.clone()
            },
            Ahead {
                entropy: Arc::default(),
                ..now.clone()
            },
            Ahead {
                denylist: Arc::default(),
                ..now.clone()
            },
        ];
        for other in &changed {
            assert!(!made.ahead.same_as(other));
        }
    }
}
