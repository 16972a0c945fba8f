//! The I/O shell around [`crate::compute`]: load an epoch's verified activity from the oracle's
//! database, compute its manifest, store it once.
//!
//! # What an epoch contains
//! Epoch `N` covers received times `ParameterSet::epoch_range_ms(N) = [start, end)` of the
//! parameter set in force for `N` (`db::parameters::in_force`). It contains:
//! - every **valid beacon** (`pocs.valid = 1`) with `pocs.received_ms` in the range, paid to its
//!   beaconer at `pocs.hex_scale_e4 x pocs.reward_units_e4`, boosted at `pocs.location` (the
//!   asserted location the beacon was verified at; the beaconer's asserted location below when
//!   the verdict has none);
//! - every **valid, selected witness** (`witness_verdicts.valid = 1 AND selected = 1`) *of a
//!   beacon in the range* (a proof of coverage is paid entirely in its beacon's epoch), paid to
//!   the witness at `witness_verdicts.hex_scale_e4` (the beaconer's scale) `x reward_units_e4`,
//!   boosted at the witness's asserted location.
//!
//! A hotspot's owner and location are those of its location assertion in force at the end of
//! the epoch: among its `assertions` received before `end`, the one with the latest signed
//! `timestamp_ms` (the oracle only accepts newer ones). This comes from the append-only signed
//! log, not the mutable `hotspots` table, so a later re-assertion or change of owner does not
//! change a past epoch.
//!
//! An epoch is computed only once it has ended (`end <= now`) and every report received in it
//! has a verdict; otherwise [`EpochError::NotEnded`] / [`EpochError::NotVerified`].
//!
//! # The reports digest
//! `reports_digest = SHA-256` of the concatenation of (integers big-endian `u64`, keys and ids
//! 32 bytes):
//! 1. `"coverage-proof/v1/reports-digest" || 0x00 || epoch || start_ms || end_ms`;
//! 2. per valid beacon, ordered by (minute of receipt = `received_ms / 60000`, `beaconer_key`,
//!    `beacon_id`), keys bytewise (the order the verdicts are stored in, migration 0009):
//!    `0x01 || beacon_id || beaconer_key || received_ms || location (0 if NULL) || hex_scale_e4 || reward_units_e4`;
//! 3. per valid selected witness, ordered by (minute of receipt, `witness_key`, `witness_id`):
//!    `0x02 || witness_id || beacon_id || witness_key || hex_scale_e4 || reward_units_e4`;
//! 4. per hotspot appearing in 2 or 3, ordered by key:
//!    `0x03 || hotspot_key || owner_key || location || assertion timestamp_ms`.
//!
//! These are exactly the values the amounts depend on, so a changed verdict, owner or location
//! changes the digest (and so the manifest hash).
//!
//! # Where they are read
//! From `paid_beacons` and `paid_witnesses` (migration 0010): those values of the rows of 2 and
//! 3, keyed like the verdict tables. Triggers on `pocs` and `witness_verdicts` keep them equal
//! to their definition above whichever way a verdict is inserted, corrected or deleted, so the
//! job reads 7 narrow columns per paid report instead of the verdicts' full rows with their
//! explanations, a quarter of which it would filter out (`docs/benchmarks.md`).

use crate::compute::{self, ComputeError, EpochHeader, EpochInputs, Key};
use db::Db;
use db::parameters::ParametersError;
use futures::TryStreamExt;
use prost::Message;
use rows::{BeaconRow, WitnessRow};
use schemas::parameters::ParameterSet;
use schemas::proto::{LocationAssertion, RewardManifest};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

mod rows;
pub mod what_if;

/// Domain tag at the start of the reports digest.
pub const REPORTS_DIGEST_DOMAIN: &str = "coverage-proof/v1/reports-digest";

/// Why an epoch could not be loaded, computed or stored.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    /// A database error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The parameter set in force could not be read.
    #[error(transparent)]
    Parameters(#[from] ParametersError),
    /// The epoch is still running.
    #[error("epoch {epoch} has not ended: it ends at {} (now {})", utc(*end_ms), utc(*now_ms))]
    NotEnded {
        /// The epoch.
        epoch: u64,
        /// Its end (ms since the Unix epoch).
        end_ms: u64,
        /// The clock.
        now_ms: u64,
    },
    /// Reports of the epoch still await a verdict.
    #[error("epoch {epoch} not fully verified: {pending} reports pending")]
    NotVerified {
        /// The epoch.
        epoch: u64,
        /// Reports received in the epoch without a verdict.
        pending: u64,
    },
    /// A stored row does not hold what the schema promises.
    #[error("corrupt row in {table} ({id}): {message}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's id (hex).
        id: String,
        /// What is wrong.
        message: String,
    },
    /// PostgreSQL's `COPY` output of a table's rows could not be read.
    #[error("reading {table} from PostgreSQL's COPY output: {message}")]
    Copy {
        /// The table.
        table: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A task reading a table stopped without an answer (it panicked): the epoch's rows are
    /// incomplete, so nothing is computed from them.
    #[error("reading {table} failed: {message}")]
    Reader {
        /// The table.
        table: &'static str,
        /// What the task's end said.
        message: String,
    },
    /// A rewarded hotspot has no location assertion before the end of the epoch.
    #[error(
        "hotspot {hotspot} earned rewards in epoch {epoch} but has no location assertion received before its end"
    )]
    MissingAssertion {
        /// The epoch.
        epoch: u64,
        /// The hotspot (base58).
        hotspot: String,
    },
    /// The computation refused the inputs.
    #[error("epoch {epoch}: {source}")]
    Compute {
        /// The epoch.
        epoch: u64,
        /// Why.
        source: ComputeError,
    },
    /// A different manifest is already stored for the epoch.
    #[error(
        "epoch {epoch} already has a stored manifest with hash {stored}, but it computes to {computed}: \
         the stored reports or parameters changed since; refusing to overwrite"
    )]
    Conflict {
        /// The epoch.
        epoch: u64,
        /// Stored hash (hex).
        stored: String,
        /// Computed hash (hex).
        computed: String,
    },
}

/// An epoch's inputs, loaded from the database.
#[derive(Debug, Clone)]
pub struct LoadedEpoch {
    /// The epoch.
    pub epoch: u64,
    /// The parameter set in force for it.
    pub parameters: ParameterSet,
    /// Aggregated activity.
    pub inputs: EpochInputs,
    /// See the module docs.
    pub reports_digest: [u8; 32],
    /// Asserted res-12 location (at the epoch's end) of every hotspot with activity.
    pub locations: HashMap<Key, u64>,
}

impl LoadedEpoch {
    /// Computes the manifest under `params` (normally [`Self::parameters`]).
    pub fn manifest(&self, params: &ParameterSet) -> Result<RewardManifest, EpochError> {
        compute::manifest(
            &self.inputs,
            params,
            &EpochHeader {
                epoch: self.epoch,
                reports_digest: self.reports_digest,
            },
        )
        .map_err(|source| EpochError::Compute {
            epoch: self.epoch,
            source,
        })
    }
}

/// A computed manifest and its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedManifest {
    /// The manifest.
    pub manifest: RewardManifest,
    /// SHA-256 of its encoding: the epoch's identity.
    pub hash: [u8; 32],
}

impl ComputedManifest {
    /// Wraps a manifest with its hash.
    pub fn new(manifest: RewardManifest) -> Self {
        let hash = compute::manifest_hash(&manifest);
        Self { manifest, hash }
    }
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `ms` as RFC 3339 UTC text.
pub fn utc(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Computes epoch `epoch` from the database with the system clock (nothing is stored).
pub async fn compute_epoch(db: &Db, epoch: u64) -> Result<ComputedManifest, EpochError> {
    compute_epoch_at(db, epoch, now_ms()).await
}

/// [`compute_epoch`] with an explicit clock.
pub async fn compute_epoch_at(
    db: &Db,
    epoch: u64,
    now_ms: u64,
) -> Result<ComputedManifest, EpochError> {
    let loaded = load_epoch(db, epoch, now_ms).await?;
    Ok(ComputedManifest::new(loaded.manifest(&loaded.parameters)?))
}

/// Loads epoch `epoch`'s inputs under the parameter set in force for it.
pub async fn load_epoch(db: &Db, epoch: u64, now_ms: u64) -> Result<LoadedEpoch, EpochError> {
    let pool = db.pool();
    let parameters = db::parameters::in_force(pool, epoch).await?;
    let (start, end) = parameters.epoch_range_ms(epoch);
    if now_ms < end {
        return Err(EpochError::NotEnded {
            epoch,
            end_ms: end,
            now_ms,
        });
    }
    let pending = pending_reports(pool, start, end).await?;
    if pending > 0 {
        return Err(EpochError::NotVerified { epoch, pending });
    }
    let started = std::time::Instant::now();
    tracing::info!(epoch, start = %utc(start), end = %utc(end), version = parameters.version, "loading epoch");
    let hotspots = Hotspots::new(assertions_at(pool, end).await?);
    tracing::info!(
        epoch,
        hotspots = hotspots.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "assertions in force loaded"
    );
    let inputs = EpochInputs::with_hotspots(
        hotspots
            .keys
            .iter()
            .zip(&hotspots.asserted)
            .map(|(key, asserted)| (*key, asserted.owner)),
    )
    .map_err(|source| EpochError::Compute { epoch, source })?;
    let mut loader = Loader {
        epoch,
        hotspots: Arc::new(hotspots),
        inputs,
        digest: Sha256::new(),
    };
    loader.digest.update(REPORTS_DIGEST_DOMAIN.as_bytes());
    loader.digest.update([0]);
    for value in [epoch, start, end] {
        loader.digest.update(value.to_be_bytes());
    }
    loader.beacons(db, start, end).await?;
    tracing::info!(
        epoch,
        reports = loader.inputs.reports(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "valid beacons loaded"
    );
    loader.witnesses(db, start, end).await?;
    tracing::info!(
        epoch,
        reports = loader.inputs.reports(),
        hotspots = loader.inputs.hotspot_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "valid selected witnesses loaded"
    );
    Ok(loader.finish(parameters))
}

/// Computes and stores epoch `epoch`'s manifest. Storing the same manifest again is a no-op;
/// a different manifest for a stored epoch is [`EpochError::Conflict`]. Returns the manifest
/// and whether it was newly stored.
pub async fn run_epoch(
    db: &Db,
    epoch: u64,
    now_ms: u64,
) -> Result<(ComputedManifest, bool), EpochError> {
    let computed = compute_epoch_at(db, epoch, now_ms).await?;
    let stored = store_manifest(db.pool(), &computed, now_ms).await?;
    Ok((computed, stored))
}

/// Stores `computed` unless its epoch has a manifest; see [`run_epoch`].
pub async fn store_manifest(
    pool: &AnyPool,
    computed: &ComputedManifest,
    now_ms: u64,
) -> Result<bool, EpochError> {
    let epoch = computed.manifest.epoch;
    let inserted = sqlx::query(
        "INSERT INTO reward_manifests (epoch, manifest_hash, manifest, computed_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(to_i64(epoch))
    .bind(computed.hash.to_vec())
    .bind(computed.manifest.encode_to_vec())
    .bind(to_i64(now_ms))
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        tracing::info!(epoch, hash = %hex::encode(computed.hash), "stored reward manifest");
        return Ok(true);
    }
    match stored_manifest(pool, epoch).await? {
        Some(stored) if stored.hash == computed.hash => Ok(false),
        Some(stored) => Err(EpochError::Conflict {
            epoch,
            stored: hex::encode(stored.hash),
            computed: hex::encode(computed.hash),
        }),
        None => Err(EpochError::Corrupt {
            table: "reward_manifests",
            id: epoch.to_string(),
            message: "insert conflicted but no row is visible".into(),
        }),
    }
}

/// The stored manifest of `epoch`, checked against its stored hash.
pub async fn stored_manifest(
    pool: &AnyPool,
    epoch: u64,
) -> Result<Option<ComputedManifest>, EpochError> {
    let row = sqlx::query("SELECT manifest_hash, manifest FROM reward_manifests WHERE epoch = $1")
        .bind(to_i64(epoch))
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let corrupt = |message: String| EpochError::Corrupt {
        table: "reward_manifests",
        id: epoch.to_string(),
        message,
    };
    let hash: Vec<u8> = row.try_get(0)?;
    let bytes: Vec<u8> = row.try_get(1)?;
    let manifest = RewardManifest::decode(bytes.as_slice())
        .map_err(|e| corrupt(format!("undecodable: {e}")))?;
    let computed = ComputedManifest::new(manifest);
    if computed.hash.as_slice() != hash.as_slice() || computed.manifest.encode_to_vec() != bytes {
        return Err(corrupt(format!(
            "stored hash {} is not the hash of the stored manifest ({})",
            hex::encode(&hash),
            hex::encode(computed.hash)
        )));
    }
    if computed.manifest.epoch != epoch {
        return Err(corrupt(format!(
            "manifest is for epoch {}",
            computed.manifest.epoch
        )));
    }
    Ok(Some(computed))
}

/// Reports received in `[start, end)` that have no verdict. The oracle records that every
/// report received before `verifier_progress.verified_before_ms` has one; only reports after it
/// are looked up (each by its verdict's key).
async fn pending_reports(pool: &AnyPool, start: u64, end: u64) -> Result<u64, EpochError> {
    let verified_before: Option<i64> =
        sqlx::query("SELECT verified_before_ms FROM verifier_progress WHERE id = 1")
            .fetch_optional(pool)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
    let from = start.max(verified_before.map_or(0, |v| v.max(0) as u64));
    if from >= end {
        return Ok(0);
    }
    let mut pending = 0;
    for sql in [
        "SELECT COUNT(*) FROM beacon_reports r WHERE r.received_ms >= $1 AND r.received_ms < $2 \
         AND (SELECT 1 FROM pocs p WHERE p.minute = r.received_ms / 60000 \
         AND p.beaconer_key = r.hotspot_key AND p.beacon_id = r.id) IS NULL",
        "SELECT COUNT(*) FROM witness_reports r WHERE r.received_ms >= $1 AND r.received_ms < $2 \
         AND (SELECT 1 FROM witness_verdicts v WHERE v.minute = r.received_ms / 60000 \
         AND v.witness_key = r.hotspot_key AND v.witness_id = r.id) IS NULL",
    ] {
        let count: i64 = sqlx::query(sql)
            .bind(to_i64(from))
            .bind(to_i64(end))
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        pending += count.max(0) as u64;
    }
    Ok(pending)
}

/// A hotspot's assertion in force.
#[derive(Debug, Clone, Copy)]
struct Asserted {
    owner: Key,
    location: u64,
    timestamp_ms: u64,
}

/// The assertion in force at `end` for every hotspot asserted before it.
async fn assertions_at(
    pool: &AnyPool,
    end: u64,
) -> Result<foldhash::HashMap<Key, Asserted>, EpochError> {
    let mut rows = sqlx::query("SELECT id, message FROM assertions WHERE received_ms < $1")
        .bind(to_i64(end))
        .fetch(pool);
    let mut latest = foldhash::HashMap::<Key, Asserted>::default();
    while let Some(row) = rows.try_next().await? {
        let id: Vec<u8> = row.try_get(0)?;
        let message: Vec<u8> = row.try_get(1)?;
        let corrupt = |message: String| EpochError::Corrupt {
            table: "assertions",
            id: hex::encode(&id),
            message,
        };
        let assertion = LocationAssertion::decode(message.as_slice())
            .map_err(|e| corrupt(format!("undecodable: {e}")))?;
        let hotspot =
            key_of(&assertion.hotspot_key).ok_or_else(|| corrupt("hotspot key".into()))?;
        let asserted = Asserted {
            owner: key_of(&assertion.owner_key).ok_or_else(|| corrupt("owner key".into()))?,
            location: assertion.location,
            timestamp_ms: assertion.timestamp_ms,
        };
        let slot = latest.entry(hotspot).or_insert(asserted);
        // Ties cannot happen (the oracle refuses an assertion that is not newer); break them
        // by content anyway so the result never depends on row order.
        if (asserted.timestamp_ms, asserted.location, asserted.owner)
            > (slot.timestamp_ms, slot.location, slot.owner)
        {
            *slot = asserted;
        }
    }
    Ok(latest)
}

/// The assertions in force at the epoch's end, sorted by hotspot key. A hotspot's position
/// here is its slot in the epoch's [`EpochInputs`].
struct Hotspots {
    keys: Vec<Key>,
    asserted: Vec<Asserted>,
}

impl Hotspots {
    fn new(assertions: foldhash::HashMap<Key, Asserted>) -> Self {
        let mut sorted: Vec<(Key, Asserted)> = assertions.into_iter().collect();
        sorted.sort_unstable_by_key(|(key, _)| *key);
        let (keys, asserted) = sorted.into_iter().unzip();
        Self { keys, asserted }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    /// Looks up keys given in ascending order.
    fn cursor(&self) -> Cursor<'_> {
        Cursor {
            keys: &self.keys,
            at: 0,
        }
    }
}

/// Finds ascending keys in a sorted list by galloping forward from the last one found: a
/// chunk's reports sorted by hotspot are a few positions apart in the list, so each search
/// reads memory next to the last one instead of a hash map's random bucket.
struct Cursor<'a> {
    keys: &'a [Key],
    /// Every key before `at` is smaller than every key still to be looked up.
    at: usize,
}

impl Cursor<'_> {
    /// The position of `key`, which must not be smaller than the previous key looked up.
    fn find(&mut self, key: &Key) -> Option<usize> {
        let (mut low, mut high, mut step) = (self.at, self.at, 1);
        while high < self.keys.len() && self.keys[high] < *key {
            low = high + 1;
            high += step;
            step *= 2;
        }
        let high = high.min(self.keys.len());
        let at = low + self.keys[low..high].partition_point(|k| k < key);
        self.at = at;
        (self.keys.get(at) == Some(key)).then_some(at)
    }
}

/// A report as the rewards job reads it: its bytes in the reports digest, and what it adds to
/// its hotspot.
trait Report: rows::Decoded {
    /// Bytes `digest_into` appends.
    const DIGEST_BYTES: usize;
    /// Appends the report's part of the digest (module docs, 2 and 3).
    fn digest_into(&self, digest: &mut Vec<u8>);
    /// The hotspot paid.
    fn hotspot(&self) -> &Key {
        self.key().0
    }
    /// What the report adds, its hotspot being in `slot` and asserted as `asserted`.
    fn paid(&self, slot: usize, asserted: &Asserted) -> Paid;
}

impl Report for BeaconRow {
    const DIGEST_BYTES: usize = 1 + 32 + 32 + 4 * 8;

    fn digest_into(&self, digest: &mut Vec<u8>) {
        digest.push(1);
        digest.extend_from_slice(&self.id);
        digest.extend_from_slice(&self.beaconer);
        for value in [
            self.received_ms,
            self.location.unwrap_or(0),
            self.hex_scale_e4.into(),
            self.reward_units_e4.into(),
        ] {
            digest.extend_from_slice(&value.to_be_bytes());
        }
    }

    fn paid(&self, slot: usize, asserted: &Asserted) -> Paid {
        Paid {
            slot,
            location: self.location.unwrap_or(asserted.location),
            scale_e4: self.hex_scale_e4,
            units_e4: self.reward_units_e4,
        }
    }
}

impl Report for WitnessRow {
    const DIGEST_BYTES: usize = 1 + 3 * 32 + 2 * 8;

    fn digest_into(&self, digest: &mut Vec<u8>) {
        digest.push(2);
        digest.extend_from_slice(&self.id);
        digest.extend_from_slice(&self.beacon_id);
        digest.extend_from_slice(&self.witness);
        for value in [
            u64::from(self.hex_scale_e4),
            u64::from(self.reward_units_e4),
        ] {
            digest.extend_from_slice(&value.to_be_bytes());
        }
    }

    fn paid(&self, slot: usize, asserted: &Asserted) -> Paid {
        Paid {
            slot,
            location: asserted.location,
            scale_e4: self.hex_scale_e4,
            units_e4: self.reward_units_e4,
        }
    }
}

/// What one report adds to its hotspot's slot (the arguments of
/// [`EpochInputs::add_beacon_at`] and [`EpochInputs::add_witness_at`]).
#[derive(Debug, Clone, Copy)]
struct Paid {
    slot: usize,
    location: u64,
    scale_e4: u32,
    units_e4: u32,
}

/// A chunk of reports made ready on its reader task, so that the loader's one task only hashes
/// bytes and adds to slots in order.
struct Prepared {
    /// The reports' bytes in the digest, in the digest's order.
    digest: Vec<u8>,
    /// What they add, in slot order.
    paid: Vec<Paid>,
}

/// Prepares a chunk read in the digest's order. A report of a hotspot without an assertion in
/// force is [`EpochError::MissingAssertion`].
fn prepare<T: Report>(
    rows: Vec<T>,
    hotspots: &Hotspots,
    epoch: u64,
) -> Result<Prepared, EpochError> {
    let mut digest = Vec::with_capacity(rows.len() * T::DIGEST_BYTES);
    for row in &rows {
        row.digest_into(&mut digest);
    }
    let mut by_hotspot: Vec<&T> = rows.iter().collect();
    by_hotspot.sort_unstable_by_key(|row| row.hotspot());
    let mut cursor = hotspots.cursor();
    let mut paid = Vec::with_capacity(rows.len());
    for row in by_hotspot {
        let slot = cursor
            .find(row.hotspot())
            .ok_or_else(|| EpochError::MissingAssertion {
                epoch,
                hotspot: schemas::PublicKey::from_bytes(*row.hotspot()).to_string(),
            })?;
        paid.push(row.paid(slot, &hotspots.asserted[slot]));
    }
    Ok(Prepared { digest, paid })
}

struct Loader {
    epoch: u64,
    hotspots: Arc<Hotspots>,
    inputs: EpochInputs,
    digest: Sha256,
}

impl Loader {
    fn compute_error(&self, source: ComputeError) -> EpochError {
        EpochError::Compute {
            epoch: self.epoch,
            source,
        }
    }

    /// Valid beacons received in `[start, end)`.
    async fn beacons(&mut self, db: &Db, start: u64, end: u64) -> Result<(), EpochError> {
        let chunks = self.read::<BeaconRow>(
            db,
            "minute >= $1 AND minute <= $2 AND received_ms >= $3 AND received_ms < $4",
            db::verdict_minutes(start, end),
            vec![to_i64(start), to_i64(end)],
        );
        self.add(chunks, EpochInputs::add_beacon_at).await
    }

    /// Witnesses of the epoch's proofs of coverage (the `epoch` column is their beacon's), all
    /// received within `db::VERDICT_EPOCH_MARGIN_MS` of the epoch.
    async fn witnesses(&mut self, db: &Db, start: u64, end: u64) -> Result<(), EpochError> {
        let margin = db::VERDICT_EPOCH_MARGIN_MS;
        let chunks = self.read::<WitnessRow>(
            db,
            "minute >= $1 AND minute <= $2 AND epoch = $3",
            db::verdict_minutes(start.saturating_sub(margin), end.saturating_add(margin)),
            vec![to_i64(self.epoch)],
        );
        self.add(chunks, EpochInputs::add_witness_at).await
    }

    fn read<T: Report>(
        &self,
        db: &Db,
        filter: &'static str,
        minutes: (i64, i64),
        binds: Vec<i64>,
    ) -> mpsc::Receiver<Result<Prepared, EpochError>> {
        let (hotspots, epoch) = (self.hotspots.clone(), self.epoch);
        rows::read::<T, _, _>(db, filter, minutes, binds, move |rows| {
            prepare(rows, &hotspots, epoch)
        })
    }

    async fn add(
        &mut self,
        mut chunks: mpsc::Receiver<Result<Prepared, EpochError>>,
        add: fn(&mut EpochInputs, usize, u64, u32, u32) -> Result<(), ComputeError>,
    ) -> Result<(), EpochError> {
        while let Some(chunk) = chunks.recv().await {
            let chunk = chunk?;
            self.digest.update(&chunk.digest);
            for paid in &chunk.paid {
                add(
                    &mut self.inputs,
                    paid.slot,
                    paid.location,
                    paid.scale_e4,
                    paid.units_e4,
                )
                .map_err(|e| self.compute_error(e))?;
            }
        }
        Ok(())
    }

    fn finish(mut self, parameters: ParameterSet) -> LoadedEpoch {
        // Slots are positions in `hotspots`, which is sorted by key: the slots with activity,
        // in order, are the digest's hotspots in its order.
        let mut locations = HashMap::with_capacity(self.inputs.hotspot_count());
        for (slot, hotspot) in self.inputs.hotspots() {
            let asserted = &self.hotspots.asserted[slot];
            self.digest.update([3]);
            self.digest.update(hotspot);
            self.digest.update(asserted.owner);
            self.digest.update(asserted.location.to_be_bytes());
            self.digest.update(asserted.timestamp_ms.to_be_bytes());
            locations.insert(*hotspot, asserted.location);
        }
        LoadedEpoch {
            epoch: self.epoch,
            parameters,
            inputs: self.inputs,
            reports_digest: self.digest.finalize().into(),
            locations,
        }
    }
}

fn key_of(bytes: &[u8]) -> Option<Key> {
    bytes.try_into().ok()
}

/// Database integers are BIGINT; values beyond `i64::MAX` saturate (no epoch or time reaches it).
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_key(n: u32) -> Key {
        Sha256::digest(n.to_be_bytes()).into()
    }

    fn hotspots(n: u32) -> Hotspots {
        Hotspots::new(
            (0..n)
                .map(|i| {
                    let asserted = Asserted {
                        owner: [7; 32],
                        location: u64::from(i) + 1_000,
                        timestamp_ms: u64::from(i),
                    };
                    (hash_key(i), asserted)
                })
                .collect(),
        )
    }

    #[test]
    fn the_cursor_finds_what_a_binary_search_finds() {
        let table = hotspots(5_000);
        // Present and absent keys, some repeated, at every spacing the galloping meets.
        let mut queries: Vec<Key> = (0..12_000u32).map(|i| hash_key(i % 7_000)).collect();
        queries.extend([[0; 32], [0xff; 32], table.keys[0], table.keys[4_999]]);
        queries.sort_unstable();
        let mut cursor = table.cursor();
        for query in &queries {
            assert_eq!(
                cursor.find(query),
                table.keys.binary_search(query).ok(),
                "{}",
                hex::encode(query)
            );
        }
        assert_eq!(
            Hotspots::new(Default::default()).cursor().find(&[1; 32]),
            None
        );
    }

    fn beacon(id: u8, beaconer: Key, location: Option<u64>) -> BeaconRow {
        BeaconRow {
            id: [id; 32],
            beaconer,
            received_ms: 60_000 + u64::from(id),
            location,
            hex_scale_e4: 10_000 - u32::from(id),
            reward_units_e4: 5_000 + u32::from(id),
        }
    }

    #[test]
    fn a_chunk_is_prepared_into_digest_bytes_in_order_and_slots_in_order() {
        let table = hotspots(100);
        let rows = vec![
            beacon(1, table.keys[40], None),
            beacon(2, table.keys[3], Some(77)),
            beacon(3, table.keys[40], Some(78)),
            beacon(4, table.keys[0], None),
        ];
        let prepared = prepare(rows.clone(), &table, 9).expect("all asserted");
        let mut digest = Vec::new();
        for row in &rows {
            row.digest_into(&mut digest);
        }
        assert_eq!(prepared.digest, digest);
        assert_eq!(prepared.digest.len(), 4 * 97);
        assert_eq!(
            &prepared.digest[..33],
            &[[1].as_slice(), &[1; 32]].concat()[..]
        );
        let paid: Vec<(usize, u64, u32)> = prepared
            .paid
            .iter()
            .map(|p| (p.slot, p.location, p.units_e4))
            .collect();
        // By slot; a beacon without a verified location is boosted at the asserted one.
        let asserted = |slot: usize| table.asserted[slot].location;
        assert_eq!(paid[0], (0, asserted(0), 5_004));
        assert_eq!(paid[1], (3, 77, 5_002));
        let mut last_two = [paid[2], paid[3]];
        last_two.sort_unstable();
        assert_eq!(last_two, [(40, 78, 5_003), (40, asserted(40), 5_001)]);

        let stranger = beacon(5, [0xee; 32], None);
        let err = prepare(vec![rows[0], stranger], &table, 9)
            .err()
            .expect("no assertion");
        assert!(
            matches!(&err, EpochError::MissingAssertion { epoch: 9, hotspot }
                if *hotspot == schemas::PublicKey::from_bytes([0xee; 32]).to_string()),
            "{err}"
        );
    }
}
