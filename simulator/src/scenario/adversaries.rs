//! Validation of the adversarial behaviours: each attack has the keys it needs, references
//! name existing hotspots, and rings have at least two members.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Behaviour, HotspotSpec, ScenarioError};

/// Checks every hotspot's behaviour against its keys and the other hotspots; `places[i]` says
/// where `hotspots[i]` came from.
pub(super) fn validate(hotspots: &[HotspotSpec], places: &[String]) -> Result<(), ScenarioError> {
    let by_name: HashMap<&str, &HotspotSpec> =
        hotspots.iter().map(|h| (h.name.as_str(), h)).collect();
    let mut rings: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (spec, at) in hotspots.iter().zip(places) {
        check_keys(spec, at)?;
        match spec.behaviour {
            Behaviour::SpoofLocation => check_spoofed(spec, at)?,
            Behaviour::VirtualWitness => check_colluders(spec, at, &by_name)?,
            Behaviour::CollusionRing => {
                if let Some(ring) = &spec.ring {
                    rings.entry(ring).or_default().push(&spec.name);
                }
            }
            _ => {}
        }
    }
    match rings.into_iter().find(|(_, members)| members.len() < 2) {
        Some((ring, members)) => Err(ScenarioError::RingOfOne {
            ring: ring.to_owned(),
            member: members.first().copied().unwrap_or_default().to_owned(),
        }),
        None => Ok(()),
    }
}

/// `colluders` only (and always) with `virtual_witness`, `ring` only (and always) with
/// `collusion_ring`.
fn check_keys(spec: &HotspotSpec, at: &str) -> Result<(), ScenarioError> {
    let behaviour = spec.behaviour;
    let rules = [
        (
            "colluders",
            Behaviour::VirtualWitness,
            !spec.colluders.is_empty(),
        ),
        ("ring", Behaviour::CollusionRing, spec.ring.is_some()),
    ];
    for (field, allowed, present) in rules {
        if present && behaviour != allowed {
            return Err(ScenarioError::FieldNotAllowed {
                at: at.to_owned(),
                field,
                allowed: allowed.as_str(),
                behaviour: behaviour.as_str(),
            });
        }
        if !present && behaviour == allowed {
            return Err(ScenarioError::MissingField {
                at: at.to_owned(),
                behaviour: behaviour.as_str(),
                field,
            });
        }
    }
    if spec.ring.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(ScenarioError::MissingField {
            at: at.to_owned(),
            behaviour: behaviour.as_str(),
            field: "ring",
        });
    }
    Ok(())
}

/// A spoofer asserts a res-12 cell other than the one its radio is in.
fn check_spoofed(spec: &HotspotSpec, at: &str) -> Result<(), ScenarioError> {
    let cell = |lat: f64, lng: f64| {
        h3o::LatLng::new(lat, lng)
            .ok()
            .map(|p| p.to_cell(h3o::Resolution::Twelve))
    };
    let (asserted_lat, asserted_lng) = spec.asserted_position();
    if cell(spec.lat, spec.lng) == cell(asserted_lat, asserted_lng) {
        return Err(ScenarioError::NotSpoofed { at: at.to_owned() });
    }
    Ok(())
}

/// Every colluder exists, is not the hotspot itself, is listed once and runs.
fn check_colluders(
    spec: &HotspotSpec,
    at: &str,
    by_name: &HashMap<&str, &HotspotSpec>,
) -> Result<(), ScenarioError> {
    let mut seen = HashSet::new();
    for name in &spec.colluders {
        let problem = match by_name.get(name.as_str()) {
            None => Some("is not a hotspot of the scenario"),
            Some(_) if *name == spec.name => Some("is the virtual witness itself"),
            Some(c) if c.behaviour == Behaviour::Offline => {
                Some("is offline and cannot relay beacons")
            }
            Some(_) if !seen.insert(name.as_str()) => Some("is listed twice"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(ScenarioError::BadColluder {
                at: at.to_owned(),
                name: name.clone(),
                problem,
            });
        }
    }
    Ok(())
}
