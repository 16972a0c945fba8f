//! Validation rules of a scenario, each naming the key or place at fault.

use std::collections::HashMap;

use super::{HotspotSpec, ParamOverrides, ScenarioError};
use crate::radio_model::RadioParams;

/// Rejects zero durations among the overrides.
pub(super) fn validate_params(params: &ParamOverrides) -> Result<(), ScenarioError> {
    let durations = [
        ("beacon_interval", params.beacon_interval),
        ("entropy_tick", params.entropy_tick),
        ("entropy_lifespan", params.entropy_lifespan),
    ];
    match durations
        .iter()
        .find(|(_, d)| d.is_some_and(|d| d.is_zero()))
    {
        Some((field, _)) => Err(ScenarioError::ZeroParam(field)),
        None => Ok(()),
    }
}

/// Checks the radio parameters' ranges.
pub(super) fn validate_radio(radio: &RadioParams) -> Result<(), ScenarioError> {
    let (n, range) = (radio.path_loss_exponent, radio.max_range_km);
    let (sigma, jitter) = (radio.shadowing_sigma_db, radio.timestamp_jitter_ns);
    let checks = [
        ("path_loss_exponent", n, n > 0.0, "must be > 0"),
        ("max_range_km", range, range > 0.0, "must be > 0"),
        ("shadowing_sigma_db", sigma, sigma >= 0.0, "must be >= 0"),
        (
            "link_shadowing_sigma_db",
            radio.link_shadowing_sigma_db,
            radio.link_shadowing_sigma_db >= 0.0,
            "must be >= 0",
        ),
        ("timestamp_jitter_ns", jitter, jitter >= 0.0, "must be >= 0"),
        (
            "noise_figure_db",
            radio.noise_figure_db,
            true,
            "must be finite",
        ),
        (
            "reference_loss_db",
            radio.reference_loss_db.unwrap_or(0.0),
            true,
            "must be finite",
        ),
    ];
    match checks
        .into_iter()
        .find(|&(_, value, ok, _)| !(ok && value.is_finite()))
    {
        Some((field, value, _, requirement)) => Err(ScenarioError::Radio {
            field,
            value,
            requirement,
        }),
        None => Ok(()),
    }
}

/// Checks a hotspot's coordinates; `at` names it in errors.
pub(super) fn validate_hotspot(spec: &HotspotSpec, at: &str) -> Result<(), ScenarioError> {
    if spec.asserted_lat.is_some() != spec.asserted_lng.is_some() {
        return Err(ScenarioError::HalfAsserted { at: at.to_owned() });
    }
    let (asserted_lat, asserted_lng) = spec.asserted_position();
    let checks = [
        ("lat", spec.lat, 90.0),
        ("lng", spec.lng, 180.0),
        ("asserted_lat", asserted_lat, 90.0),
        ("asserted_lng", asserted_lng, 180.0),
    ];
    for (field, value, limit) in checks {
        if !(value.is_finite() && value.abs() <= limit) {
            return Err(ScenarioError::OutOfRange {
                at: at.to_owned(),
                field,
                value,
            });
        }
    }
    Ok(())
}

/// Rejects two hotspots with one name; `places[i]` says where `hotspots[i]` came from.
pub(super) fn check_unique_names(
    hotspots: &[HotspotSpec],
    places: &[String],
) -> Result<(), ScenarioError> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(hotspots.len());
    for (i, spec) in hotspots.iter().enumerate() {
        if let Some(&first) = seen.get(spec.name.as_str()) {
            return Err(ScenarioError::DuplicateName {
                name: spec.name.clone(),
                first: places[first].clone(),
                second: places[i].clone(),
            });
        }
        seen.insert(&spec.name, i);
    }
    Ok(())
}
