//! Single and batch verification agree on crafted edge cases (signatures built from raw
//! curve arithmetic), and the rule is the one the module docs state.

use super::*;
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

/// A raw (key, signature, message) triple.
#[derive(Clone)]
struct Case {
    name: &'static str,
    key: [u8; 32],
    sig: Vec<u8>,
    msg: Vec<u8>,
}

fn scalar(label: &str) -> Scalar {
    let wide: [u8; 64] = Sha512::digest(label.as_bytes()).into();
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(msg);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// `s = r + k a` with an arbitrary point `big_r` standing for `R`.
fn sign_raw(a: Scalar, r: Scalar, big_r: EdwardsPoint, msg: &[u8]) -> ([u8; 32], Vec<u8>) {
    let key = (a * B).compress().to_bytes();
    let r_bytes = big_r.compress().to_bytes();
    let s = r + challenge(&r_bytes, &key, msg) * a;
    let mut sig = r_bytes.to_vec();
    sig.extend_from_slice(s.as_bytes());
    (key, sig)
}

fn honest(seed: u8, msg: &[u8]) -> Case {
    let key = Keypair::from_seed([seed; 32]);
    Case {
        name: "honest",
        key: *key.public().as_bytes(),
        sig: key.sign(msg).to_vec(),
        msg: msg.to_vec(),
    }
}

/// An order-8 torsion point.
fn t8() -> EdwardsPoint {
    EIGHT_TORSION[1]
}

fn torsion_in_r() -> Case {
    let (a, r, msg) = (scalar("a1"), scalar("r1"), b"torsion in R".to_vec());
    let (key, sig) = sign_raw(a, r, r * B + t8(), &msg);
    Case {
        name: "R with a small-order component",
        key,
        sig,
        msg,
    }
}

fn small_order_r() -> Case {
    let (a, msg) = (scalar("a2"), b"small-order R".to_vec());
    let (key, sig) = sign_raw(a, Scalar::ZERO, EIGHT_TORSION[2], &msg);
    Case {
        name: "R of small order",
        key,
        sig,
        msg,
    }
}

/// Anyone's forgery for a small-order key: `R = [s]B` makes the cofactored equation hold.
fn small_order_key(torsion: usize) -> Case {
    let s = scalar("forger");
    let mut sig = (s * B).compress().to_bytes().to_vec();
    sig.extend_from_slice(s.as_bytes());
    Case {
        name: "small-order key",
        key: EIGHT_TORSION[torsion].compress().to_bytes(),
        sig,
        msg: b"forged".to_vec(),
    }
}

fn non_canonical_s() -> Case {
    let mut case = honest(7, b"non-canonical s");
    let s = Scalar::from_canonical_bytes(case.sig[32..].try_into().expect("32 bytes"));
    let s = Option::<Scalar>::from(s).expect("an honest s is canonical");
    // s + l, as 256-bit little-endian integers (l < 2^253, so it cannot overflow).
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (i, (a, b)) in s.as_bytes().iter().zip(l).enumerate() {
        let sum = u16::from(*a) + u16::from(b) + carry;
        case.sig[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    case.name = "s + l";
    case
}

/// A third party adds a torsion point to an honest signature's R (keeping s).
fn malleated_r() -> Case {
    let mut case = honest(8, b"malleated");
    let r = CompressedEdwardsY(case.sig[..32].try_into().expect("32 bytes"))
        .decompress()
        .expect("an honest R decodes");
    case.sig[..32].copy_from_slice(&(r + t8()).compress().to_bytes());
    case.name = "R + torsion by a third party";
    case
}

fn tampered() -> Case {
    let mut case = honest(9, b"tampered");
    case.msg[0] ^= 1;
    case.name = "tampered message";
    case
}

fn not_a_point() -> Case {
    let key = (0u8..=255)
        .map(|i| [i; 32])
        .find(|k| CompressedEdwardsY(*k).decompress().is_none())
        .expect("some byte string is not a point");
    Case {
        key,
        name: "key not on the curve",
        ..honest(10, b"not a point")
    }
}

fn short_signature() -> Case {
    let mut case = honest(11, b"short");
    case.sig.truncate(63);
    case.name = "63-byte signature";
    case
}

fn single(case: &Case) -> Result<(), SignError> {
    verify_signature(&PublicKey::from_bytes(case.key), &case.sig, &case.msg)
}

fn strict(case: &Case) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&case.key) else {
        return false;
    };
    let Ok(sig) = <[u8; 64]>::try_from(case.sig.as_slice()) else {
        return false;
    };
    key.verify_strict(&case.msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .is_ok()
}

fn all_cases() -> Vec<(Case, Result<(), SignError>)> {
    let mut cases = vec![
        (honest(1, b"hello"), Ok(())),
        (torsion_in_r(), Ok(())),
        (small_order_r(), Ok(())),
        (non_canonical_s(), Err(SignError::Mismatch)),
        (malleated_r(), Err(SignError::Mismatch)),
        (tampered(), Err(SignError::Mismatch)),
        (not_a_point(), Err(SignError::BadKey(32))),
        (short_signature(), Err(SignError::BadLength(63))),
    ];
    for t in 0..8 {
        cases.push((small_order_key(t), Err(SignError::SmallOrderKey)));
    }
    cases
}

#[test]
fn single_verification_follows_zip215_and_refuses_small_order_keys() {
    for (case, expected) in all_cases() {
        assert_eq!(single(&case), expected, "{}", case.name);
    }
}

#[test]
fn zip215_accepts_everything_verify_strict_accepts_and_differs_only_where_documented() {
    for (case, expected) in all_cases() {
        if strict(&case) {
            assert_eq!(expected, Ok(()), "{} passes verify_strict", case.name);
        }
    }
    // The two signatures ZIP 215 accepts beyond verify_strict (both need the secret key).
    assert!(!strict(&torsion_in_r()));
    assert!(!strict(&small_order_r()));
    for seed in 0..32u8 {
        let case = honest(seed, &[seed; 100]);
        assert!(strict(&case) && single(&case).is_ok());
    }
}

#[test]
fn small_order_keys_would_verify_without_the_key_check() {
    // The forgery passes ZIP 215 alone, which is why the key check exists.
    let case = small_order_key(1);
    let key = ed25519_zebra::VerificationKey::try_from(case.key).expect("a point");
    let sig = ed25519_zebra::Signature::from_bytes(&case.sig[..].try_into().expect("64"));
    assert!(key.verify(&sig, &case.msg).is_ok());
}

/// `case` queued among `good` signatures (after the first ten), and its index.
fn among(good: &[Case], case: &Case) -> (BatchVerifier, usize) {
    let mut batch = BatchVerifier::with_capacity(good.len() + 1);
    for g in &good[..10] {
        batch.queue(&g.key, &g.sig, &g.msg);
    }
    let at = batch.queue(&case.key, &case.sig, &case.msg);
    for g in &good[10..] {
        batch.queue(&g.key, &g.sig, &g.msg);
    }
    (batch, at)
}

#[test]
fn each_case_gets_the_same_result_alone_and_among_good_signatures() {
    let good: Vec<Case> = (20..40u8).map(|s| honest(s, &[s; 80])).collect();
    for (case, expected) in all_cases() {
        let (batch, at) = among(&good, &case);
        let out = batch.verify();
        for (i, result) in out.results.iter().enumerate() {
            let want = if i == at { &expected } else { &Ok(()) };
            assert_eq!(result, want, "{} at {i}", case.name);
        }
        assert_eq!(
            out.checked_one_by_one,
            expected.is_err() && !is_refused(&expected)
        );
    }
}

/// Refused before any arithmetic (never reaches the batch equation).
fn is_refused(result: &Result<(), SignError>) -> bool {
    matches!(
        result,
        Err(SignError::SmallOrderKey | SignError::BadLength(_) | SignError::BadKey(0))
    )
}

#[test]
fn the_batch_equation_itself_accepts_the_zip215_edge_cases_every_time() {
    // verify_batch of ed25519-dalek would accept a torsion R only for some random coefficients;
    // the cofactored equation accepts it for all, so no fallback is ever needed.
    for round in 0..64u8 {
        let mut batch = BatchVerifier::with_capacity(4);
        for case in [torsion_in_r(), small_order_r(), honest(round, b"x")] {
            batch.queue(&case.key, &case.sig, &case.msg);
        }
        let out = batch.verify();
        assert!(!out.checked_one_by_one, "round {round}");
        assert!(out.results.iter().all(Result::is_ok));
    }
}

#[test]
fn one_bad_report_among_many_is_identified_exactly() {
    let reports: Vec<WitnessReport> = (0..64u8)
        .map(|i| {
            let mut w = WitnessReport {
                data: vec![i; 51],
                timestamp_ms: u64::from(i),
                ..Default::default()
            };
            w.sign_with(&Keypair::from_seed([i; 32]));
            w
        })
        .collect();
    let mut batch = BatchVerifier::with_capacity(reports.len());
    for (i, report) in reports.iter().enumerate() {
        let mut report = report.clone();
        if i == 37 {
            report.snr_ddb += 1;
        }
        batch.queue_message(&report);
    }
    let out = batch.verify();
    assert!(out.checked_one_by_one);
    for (i, result) in out.results.iter().enumerate() {
        let want = if i == 37 {
            Err(SignError::Mismatch)
        } else {
            Ok(())
        };
        assert_eq!(result, &want, "report {i}");
    }
    let mut clean = BatchVerifier::default();
    for report in &reports {
        clean.queue_message(report);
    }
    let out = clean.verify();
    assert!(!out.checked_one_by_one && out.results.iter().all(Result::is_ok));
}

#[test]
fn keys_decoded_before_give_the_same_results_and_only_proven_keys_are_kept() {
    let cache = KeyCache::new(1_000);
    let good: Vec<Case> = (20..40u8).map(|s| honest(s, &[s; 80])).collect();
    // Twice over each case: first with only some keys held, then with every good one held.
    for round in 0..2 {
        for (case, expected) in all_cases() {
            let (batch, at) = among(&good, &case);
            let before = cache.len();
            let out = batch.verify_cached(&cache);
            for (i, result) in out.results.iter().enumerate() {
                let want = if i == at { &expected } else { &Ok(()) };
                assert_eq!(result, want, "{} at {i}, round {round}", case.name);
            }
            assert_eq!(
                out.checked_one_by_one,
                expected.is_err() && !is_refused(&expected),
                "{} round {round}",
                case.name
            );
            if out.checked_one_by_one {
                assert_eq!(
                    cache.len(),
                    before,
                    "{}: nothing kept from a failed batch",
                    case.name
                );
            }
        }
    }
    // The good signers, honest(1)'s, and the two edge cases' keys: every key of a batch whose
    // equation held, none of a refused or failed signature.
    let kept = cache.len();
    assert_eq!(kept, 20 + 3, "kept {kept}");
    let refused_keys: Vec<[u8; 32]> = all_cases()
        .into_iter()
        .filter(|(_, expected)| expected.is_err())
        .map(|(case, _)| case.key)
        .collect();
    let held = cache.lookup(refused_keys.iter());
    assert!(
        held.is_empty(),
        "no key of a refused signature is kept, unless it also signed a good one"
    );
}

#[test]
fn a_full_key_cache_starts_over_and_results_do_not_change() {
    let cache = KeyCache::new(8);
    for round in 0..3u8 {
        let mut batch = BatchVerifier::default();
        let mut cases = Vec::new();
        for s in 0..20u8 {
            let case = honest(s.wrapping_add(round * 7), &[s, round]);
            batch.queue(&case.key, &case.sig, &case.msg);
            cases.push(case);
        }
        let tampered = tampered();
        batch.queue(&tampered.key, &tampered.sig, &tampered.msg);
        let out = batch.verify_cached(&cache);
        assert!(out.checked_one_by_one);
        assert_eq!(out.results[20], Err(SignError::Mismatch));
        assert!(out.results[..20].iter().all(Result::is_ok), "round {round}");
        let mut clean = BatchVerifier::default();
        for case in &cases {
            clean.queue(&case.key, &case.sig, &case.msg);
        }
        let out = clean.verify_cached(&cache);
        assert!(!out.checked_one_by_one && out.results.iter().all(Result::is_ok));
        assert!((1..=8).contains(&cache.len()), "{} keys", cache.len());
    }
}
