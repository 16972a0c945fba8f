//! Tables and JSON for the manifest commands.

use rewards::approvals::ApprovalFile;
use rewards::epoch::{ComputedManifest, utc};
use schemas::PublicKey;
use schemas::parameters::BASE_UNITS_PER_TOKEN;
use schemas::proto::{ManifestApproval, RewardManifest};
use std::collections::BTreeMap;

/// Prints `value` as pretty JSON.
pub fn json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `start .. end` of the manifest's epoch in UTC.
pub fn range(manifest: &RewardManifest) -> String {
    format!("{} .. {}", utc(manifest.start_ms), utc(manifest.end_ms))
}

/// Base units as tokens (6 decimals) next to the base units.
pub fn tokens(amount: u64) -> String {
    format!(
        "{}.{:06}",
        amount / BASE_UNITS_PER_TOKEN,
        amount % BASE_UNITS_PER_TOKEN
    )
}

fn key(bytes: &[u8]) -> String {
    PublicKey::from_slice(bytes).map_or_else(|_| hex::encode(bytes), |k| k.to_string())
}

/// The manifest as JSON (every field; keys base58, hashes hex).
pub fn manifest_json(computed: &ComputedManifest) -> serde_json::Value {
    let m = &computed.manifest;
    serde_json::json!({
        "epoch": m.epoch,
        "start_ms": m.start_ms,
        "end_ms": m.end_ms,
        "start": utc(m.start_ms),
        "end": utc(m.end_ms),
        "manifest_hash": hex::encode(computed.hash),
        "parameters_version": m.parameters_version,
        "parameters_hash": hex::encode(&m.parameters_hash),
        "reports_digest": hex::encode(&m.reports_digest),
        "reports": m.reports,
        "emission": m.emission,
        "beacon_pool": m.beacon_pool,
        "witness_pool": m.witness_pool,
        "total_paid": m.total_paid,
        "unallocated": m.unallocated,
        "owners": m.owners.iter().map(|o| serde_json::json!({
            "owner": key(&o.owner_key),
            "amount": o.amount,
        })).collect::<Vec<_>>(),
        "hotspots": m.hotspots.iter().map(|h| serde_json::json!({
            "hotspot": key(&h.hotspot_key),
            "owner": key(&h.owner_key),
            "beacon_amount": h.beacon_amount,
            "witness_amount": h.witness_amount,
            "beacon_shares": h.beacon_shares,
            "witness_shares": h.witness_shares,
        })).collect::<Vec<_>>(),
    })
}

/// Summary table: emission, pools, paid, unallocated, per owner.
pub fn manifest(computed: &ComputedManifest, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json(&manifest_json(computed));
    }
    let m = &computed.manifest;
    let mut hotspots_per_owner: BTreeMap<&[u8], u64> = BTreeMap::new();
    for h in &m.hotspots {
        *hotspots_per_owner.entry(&h.owner_key).or_default() += 1;
    }
    println!("epoch {} ({})", m.epoch, range(m));
    println!("manifest hash   {}", hex::encode(computed.hash));
    println!(
        "parameters      version {} ({})",
        m.parameters_version,
        hex::encode(&m.parameters_hash)
    );
    println!(
        "reports         {} ({})",
        m.reports,
        hex::encode(&m.reports_digest)
    );
    println!("{:<16}{:>26}{:>24}", "", "tokens", "base units");
    for (label, amount) in [
        ("emission", m.emission),
        ("beacon pool", m.beacon_pool),
        ("witness pool", m.witness_pool),
        ("paid", m.total_paid),
        ("unallocated", m.unallocated),
    ] {
        println!("{label:<16}{:>26}{amount:>24}", tokens(amount));
    }
    println!();
    println!(
        "{:<46}{:>9}{:>26}{:>24}",
        "owner", "hotspots", "tokens", "base units"
    );
    for o in &m.owners {
        let count = hotspots_per_owner
            .get(o.owner_key.as_slice())
            .copied()
            .unwrap_or(0);
        println!(
            "{:<46}{count:>9}{:>26}{:>24}",
            key(&o.owner_key),
            tokens(o.amount),
            o.amount
        );
    }
    println!(
        "{} owners, {} hotspots paid",
        m.owners.len(),
        m.hotspots.len()
    );
    Ok(())
}

/// Human-readable differences between a stored and a recomputed manifest.
pub fn diff(stored: &ComputedManifest, recomputed: &ComputedManifest) -> Vec<String> {
    let (a, b) = (&stored.manifest, &recomputed.manifest);
    let mut lines = vec![format!(
        "manifest hash: stored {} recomputed {}",
        hex::encode(stored.hash),
        hex::encode(recomputed.hash)
    )];
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            lines.push(format!("{name}: stored {x} recomputed {y}"));
        }
    };
    field(
        "parameters_version",
        a.parameters_version.to_string(),
        b.parameters_version.to_string(),
    );
    field(
        "parameters_hash",
        hex::encode(&a.parameters_hash),
        hex::encode(&b.parameters_hash),
    );
    field(
        "reports_digest",
        hex::encode(&a.reports_digest),
        hex::encode(&b.reports_digest),
    );
    field("reports", a.reports.to_string(), b.reports.to_string());
    field("emission", a.emission.to_string(), b.emission.to_string());
    field(
        "beacon_pool",
        a.beacon_pool.to_string(),
        b.beacon_pool.to_string(),
    );
    field(
        "witness_pool",
        a.witness_pool.to_string(),
        b.witness_pool.to_string(),
    );
    field(
        "total_paid",
        a.total_paid.to_string(),
        b.total_paid.to_string(),
    );
    field(
        "unallocated",
        a.unallocated.to_string(),
        b.unallocated.to_string(),
    );
    let owners = |m: &RewardManifest| -> BTreeMap<Vec<u8>, u64> {
        m.owners
            .iter()
            .map(|o| (o.owner_key.clone(), o.amount))
            .collect()
    };
    let (oa, ob) = (owners(a), owners(b));
    let mut changed = 0;
    for owner in oa
        .keys()
        .chain(ob.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (x, y) = (
            oa.get(owner).copied().unwrap_or(0),
            ob.get(owner).copied().unwrap_or(0),
        );
        if x != y {
            changed += 1;
            if changed <= 20 {
                lines.push(format!("owner {}: stored {x} recomputed {y}", key(owner)));
            }
        }
    }
    if changed > 20 {
        lines.push(format!("... {} more owners differ", changed - 20));
    }
    lines
}

/// The approvals of an epoch.
pub fn approvals(
    epoch: u64,
    stored: Option<&ComputedManifest>,
    list: &[(ManifestApproval, u64)],
    as_json: bool,
) -> anyhow::Result<()> {
    let stored_hash = stored.map(|s| hex::encode(s.hash));
    if as_json {
        return json(&serde_json::json!({
            "epoch": epoch,
            "stored_manifest_hash": stored_hash,
            "approvals": list.iter().map(|(a, signed_ms)| {
                let file = ApprovalFile::from_approval(a);
                serde_json::json!({
                    "manifest_hash": file.manifest_hash,
                    "signer_key": file.signer_key,
                    "signature": file.signature,
                    "signed_ms": signed_ms,
                    "matches_stored": Some(&file.manifest_hash) == stored_hash.as_ref(),
                })
            }).collect::<Vec<_>>(),
        }));
    }
    match stored {
        Some(s) => println!(
            "epoch {epoch} ({}): stored manifest {}",
            range(&s.manifest),
            hex::encode(s.hash)
        ),
        None => println!("epoch {epoch}: no stored manifest"),
    }
    println!("{:<46}{:<66}signed (UTC)", "signer", "manifest hash");
    for (approval, signed_ms) in list {
        let file = ApprovalFile::from_approval(approval);
        println!(
            "{:<46}{:<66}{}",
            file.signer_key,
            file.manifest_hash,
            utc(*signed_ms)
        );
    }
    let matching = list
        .iter()
        .filter(|(a, _)| Some(hex::encode(&a.manifest_hash)) == stored_hash)
        .count();
    println!(
        "{} approvals, {matching} of the stored manifest (all signatures verified)",
        list.len()
    );
    Ok(())
}
