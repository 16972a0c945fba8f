//! Figure 1, the limit: ed25519 signature verification throughput, on one core and on every
//! core: ed25519-dalek one by one (`verify_strict`, the rule ingest used before ZIP 215, kept as
//! the conservative "raw single-signature rate" every ratio is relative to) and in batches
//! (`verify_batch`); ZIP 215 through ed25519-zebra one by one and in batches; and what ingest
//! does now, `schemas::sign::BatchVerifier` over real witness reports (signing bytes, the
//! small-order key check and the batch equation).

use crate::day::{cores, derive_seed, parallel_map};
use schemas::proto::WitnessReport;
use schemas::sign::{SingleSigned, signing_bytes};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Signatures in the measured set (distinct keys and messages, like real reports).
const SET: usize = 4096;
/// Signatures per batch verification (a group commit's worth).
pub const BATCH: usize = 64;
/// Signatures per batch equation in ingest (`oracle/src/ingest/pipeline.rs`, `VERIFY_CHUNK`).
pub const INGEST_BATCH: usize = 128;

/// Measured verification rates, signatures per second.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SigRates {
    /// `verify_strict` one at a time, one core.
    pub single_per_core: f64,
    /// `verify_strict` one at a time, every core.
    pub single_all_cores: f64,
    /// `verify_batch` of [`BATCH`], one core.
    pub batch_per_core: f64,
    /// `verify_batch` of [`BATCH`], every core.
    pub batch_all_cores: f64,
    /// The canonical report check (`SingleSigned::verify`: re-encoding + ZIP 215) on real
    /// witness reports, one core.
    pub report_verify_per_core: f64,
    /// ZIP 215 (ed25519-zebra) one at a time, one core.
    pub zip215_single_per_core: f64,
    /// ZIP 215 one at a time, every core.
    pub zip215_single_all_cores: f64,
    /// ZIP 215 batch of [`BATCH`], one core.
    pub zip215_batch_per_core: f64,
    /// ZIP 215 batch of [`BATCH`], every core.
    pub zip215_batch_all_cores: f64,
    /// `schemas::sign::BatchVerifier` over [`INGEST_BATCH`] real witness reports (signing
    /// bytes included), every core, each signer's key decoded in every batch.
    pub report_batch_all_cores: f64,
    /// The same with the signers' keys decoded once and kept (`KeyCache`, warm): the
    /// ingest's verification.
    pub report_batch_cached_all_cores: f64,
    pub cores: usize,
}

struct Set {
    keys: Vec<ed25519_dalek::VerifyingKey>,
    zebra_keys: Vec<ed25519_zebra::VerificationKeyBytes>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<ed25519_dalek::Signature>,
    reports: Vec<WitnessReport>,
}

fn set(seed: u64) -> Set {
    let reports: Vec<WitnessReport> = parallel_map(SET, cores(), |i| {
        let key = schemas::Keypair::from_seed(derive_seed(seed, "sig", i as u64));
        let mut report = WitnessReport {
            data: derive_seed(seed, "data", i as u64)[..].repeat(2)[..51].to_vec(),
            timestamp_ms: 1_767_225_600_000 + i as u64,
            tmst: i as u32,
            signal_ddbm: -1000 - i as i32 % 300,
            snr_ddb: 55,
            frequency_hz: 904_100_000,
            datarate: 3,
            radio_timestamp_ns: 1_767_225_600_000_000_000 + i as u64,
            ..Default::default()
        };
        report.sign_with(&key);
        report
    });
    let mut out = Set {
        keys: Vec::new(),
        zebra_keys: Vec::new(),
        messages: Vec::new(),
        signatures: Vec::new(),
        reports: Vec::new(),
    };
    for report in reports {
        let key_bytes: [u8; 32] = report.hotspot_key.as_slice().try_into().unwrap_or([0; 32]);
        let sig_bytes: [u8; 64] = report.signature.as_slice().try_into().unwrap_or([0; 64]);
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes) {
            out.keys.push(key);
            out.zebra_keys.push(key_bytes.into());
            out.messages.push(signing_bytes(&report));
            out.signatures
                .push(ed25519_dalek::Signature::from_bytes(&sig_bytes));
            out.reports.push(report);
        }
    }
    out
}

/// Runs `work` (which verifies `per_call` signatures) for about `budget` on `threads`
/// threads; returns signatures per second over all threads.
fn rate(threads: usize, budget: Duration, work: impl Fn(usize) -> usize + Sync) -> f64 {
    let start = Instant::now();
    let counts = parallel_map(threads, threads, |t| {
        let mut done = 0usize;
        let mut round = t;
        while start.elapsed() < budget {
            done += work(round);
            round += threads;
        }
        done
    });
    counts.iter().sum::<usize>() as f64 / start.elapsed().as_secs_f64()
}

/// Measures every rate for about `budget` each.
pub fn measure(seed: u64, budget: Duration) -> SigRates {
    let set = set(seed);
    let n = set.keys.len().max(1);
    let single = |round: usize| {
        let mut ok = 0;
        for k in 0..64 {
            let i = (round * 64 + k) % n;
            if set.keys[i]
                .verify_strict(&set.messages[i], &set.signatures[i])
                .is_ok()
            {
                ok += 1;
            }
        }
        ok
    };
    let batch = |round: usize| {
        let start = (round * BATCH) % (n - n % BATCH).max(BATCH);
        let end = (start + BATCH).min(n);
        let messages: Vec<&[u8]> = set.messages[start..end].iter().map(Vec::as_slice).collect();
        match ed25519_dalek::verify_batch(
            &messages,
            &set.signatures[start..end],
            &set.keys[start..end],
        ) {
            Ok(()) => end - start,
            Err(_) => 0,
        }
    };
    let report = |round: usize| {
        (0..64)
            .filter(|k| set.reports[(round * 64 + k) % n].verify().is_ok())
            .count()
    };
    let zip215_single = |round: usize| {
        let mut ok = 0;
        for k in 0..64 {
            let i = (round * 64 + k) % n;
            let sig = ed25519_zebra::Signature::from_bytes(&set.signatures[i].to_bytes());
            let verified = ed25519_zebra::VerificationKey::try_from(set.zebra_keys[i])
                .and_then(|key| key.verify(&sig, &set.messages[i]));
            if verified.is_ok() {
                ok += 1;
            }
        }
        ok
    };
    let zip215_batch = |round: usize| {
        let start = (round * BATCH) % (n - n % BATCH).max(BATCH);
        let end = (start + BATCH).min(n);
        let mut batch = ed25519_zebra::batch::Verifier::new();
        for i in start..end {
            let sig = ed25519_zebra::Signature::from_bytes(&set.signatures[i].to_bytes());
            batch.queue((set.zebra_keys[i], sig, &set.messages[i]));
        }
        match batch.verify(rand_core_rng()) {
            Ok(()) => end - start,
            Err(_) => 0,
        }
    };
    let report_batch = |round: usize| {
        let start = (round * INGEST_BATCH) % (n - n % INGEST_BATCH).max(INGEST_BATCH);
        let end = (start + INGEST_BATCH).min(n);
        let mut batch = schemas::sign::BatchVerifier::with_capacity(end - start);
        for report in &set.reports[start..end] {
            batch.queue_message(report);
        }
        batch.verify().results.iter().filter(|r| r.is_ok()).count()
    };
    let keys = schemas::sign::KeyCache::new(SET);
    let report_batch_cached = |round: usize| {
        let start = (round * INGEST_BATCH) % (n - n % INGEST_BATCH).max(INGEST_BATCH);
        let end = (start + INGEST_BATCH).min(n);
        let mut batch = schemas::sign::BatchVerifier::with_capacity(end - start);
        for report in &set.reports[start..end] {
            batch.queue_message(report);
        }
        let results = batch.verify_cached(&keys).results;
        results.iter().filter(|r| r.is_ok()).count()
    };
    // Warm: every key decoded once, as for an oracle's hotspots after their first reports.
    for round in 0..n.div_ceil(INGEST_BATCH) {
        report_batch_cached(round);
    }
    let all = cores();
    SigRates {
        single_per_core: rate(1, budget, single),
        single_all_cores: rate(all, budget, single),
        batch_per_core: rate(1, budget, batch),
        batch_all_cores: rate(all, budget, batch),
        report_verify_per_core: rate(1, budget, report),
        zip215_single_per_core: rate(1, budget, zip215_single),
        zip215_single_all_cores: rate(all, budget, zip215_single),
        zip215_batch_per_core: rate(1, budget, zip215_batch),
        zip215_batch_all_cores: rate(all, budget, zip215_batch),
        report_batch_all_cores: rate(all, budget, report_batch),
        report_batch_cached_all_cores: rate(all, budget, report_batch_cached),
        cores: all,
    }
}

/// The batch coefficients' randomness for the raw ed25519-zebra measurement (the operating
/// system's, as `schemas::sign::BatchVerifier` seeds its own).
fn rand_core_rng() -> impl rand_core::CryptoRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signature_of_the_set_verifies_one_by_one_and_in_batches() {
        let set = set(1);
        assert_eq!(set.keys.len(), SET);
        let messages: Vec<&[u8]> = set.messages[..BATCH].iter().map(Vec::as_slice).collect();
        assert!(
            ed25519_dalek::verify_batch(&messages, &set.signatures[..BATCH], &set.keys[..BATCH])
                .is_ok()
        );
        assert!(set.reports.iter().all(|r| r.verify().is_ok()));
        let mut zebra = ed25519_zebra::batch::Verifier::new();
        for i in 0..BATCH {
            let sig = ed25519_zebra::Signature::from_bytes(&set.signatures[i].to_bytes());
            zebra.queue((set.zebra_keys[i], sig, &set.messages[i]));
        }
        assert!(zebra.verify(rand_core_rng()).is_ok());
        let mut ours = schemas::sign::BatchVerifier::default();
        for report in &set.reports[..INGEST_BATCH] {
            ours.queue_message(report);
        }
        let out = ours.verify();
        assert!(!out.checked_one_by_one && out.results.iter().all(Result::is_ok));
        let keys = schemas::sign::KeyCache::new(SET);
        for _ in 0..2 {
            let mut ours = schemas::sign::BatchVerifier::default();
            for report in &set.reports[..INGEST_BATCH] {
                ours.queue_message(report);
            }
            let out = ours.verify_cached(&keys);
            assert!(!out.checked_one_by_one && out.results.iter().all(Result::is_ok));
            assert_eq!(keys.len(), INGEST_BATCH);
        }
    }
}
