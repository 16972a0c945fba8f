//! Each radio check at its threshold: just passing and just failing.

use super::*;

const EPS: f64 = 0.01;

fn params() -> RadioPlausibilityParams {
    RadioPlausibilityParams::default()
}

/// A US915 beacon: 27 dBm conducted into 3 dBi, SF10.
fn tx() -> Transmission {
    Transmission {
        tx_power_dbm: 27.0,
        gain_dbi: 3.0,
        datarate: DataRate::Sf10bw125,
    }
}

fn rx(distance_m: f64, rssi_dbm: f64, snr_db: f64) -> Reception {
    Reception {
        distance_m,
        freq_hz: 904_600_000,
        datarate: DataRate::Sf10bw125,
        rssi_dbm,
        snr_db,
        gain_dbi: 3.0,
    }
}

#[test]
fn free_space_reference_and_noise_floor() {
    assert!((free_space_loss_1m_db(868_100_000) - 31.22).abs() < 0.01);
    assert!((thermal_noise_dbm(125_000) - -123.03).abs() < 0.01);
    let p = params();
    assert!((p.min_noise_floor_dbm(125_000) - -121.03).abs() < 0.01);
    assert_eq!(p.demod_floor_db(12), -22.5);
    assert_eq!(p.demod_floor_db(7), -10.0);
    assert_eq!(p.demod_floor_db(3), -10.0);
}

#[test]
fn rssi_lower_bound_at_threshold() {
    let p = params();
    let probe = rx(1_000.0, 0.0, 0.0);
    let min = p.min_rssi_dbm(&tx(), &probe);
    // 30 dBm EIRP + 3 dBi - (31.57 + 35 log10(1100)) - 20
    let expected = 33.0 - (free_space_loss_1m_db(904_600_000) + 35.0 * 1_100f64.log10()) - 20.0;
    assert!((min - expected).abs() < 1e-9, "{min} vs {expected}");
    assert_eq!(
        check_rssi_lower_bound(&tx(), &rx(1_000.0, min, 0.0), &p),
        Ok(())
    );
    assert_eq!(
        check_rssi_lower_bound(&tx(), &rx(1_000.0, min - EPS, 0.0), &p),
        Err(PhysicsViolation::RssiTooLow {
            rssi_dbm: min - EPS,
            min_dbm: min
        })
    );
}

#[test]
fn rssi_lower_bound_widens_with_position_uncertainty() {
    let tight = RadioPlausibilityParams {
        position_uncertainty_m: 0.0,
        ..params()
    };
    let probe = rx(500.0, 0.0, 0.0);
    assert!(params().min_rssi_dbm(&tx(), &probe) < tight.min_rssi_dbm(&tx(), &probe));
}

#[test]
fn snr_floor_side_at_threshold() {
    let p = params();
    // lowest plausible implied noise floor: -123.03 + 2 - 6 = -127.03 dBm
    let low = p.min_noise_floor_dbm(125_000) - p.snr_tolerance_db;
    let snr = -10.0;
    assert_eq!(
        check_snr_consistency(&rx(5_000.0, low + snr, snr), &p),
        Ok(())
    );
    let err = check_snr_consistency(&rx(5_000.0, low + snr - EPS, snr), &p);
    let Err(PhysicsViolation::SnrInconsistent { bound_dbm, .. }) = err else {
        panic!("{err:?}");
    };
    assert_eq!(bound_dbm, low);
}

#[test]
fn snr_ceiling_side_at_threshold_below_the_knee() {
    let p = params();
    let high = thermal_noise_dbm(125_000) + p.max_noise_rise_db;
    let snr = p.snr_saturation_knee_db - EPS;
    assert_eq!(
        check_snr_consistency(&rx(5_000.0, high + snr, snr), &p),
        Ok(())
    );
    let err = check_snr_consistency(&rx(5_000.0, high + snr + EPS, snr), &p);
    assert!(
        matches!(err, Err(PhysicsViolation::SnrInconsistent { bound_dbm, .. }) if bound_dbm == high),
        "{err:?}"
    );
}

#[test]
fn saturated_snr_skips_the_ceiling() {
    let p = params();
    // -30 dBm at 100 m with a saturated +10 dB SNR: implied floor -40 dBm, fine.
    assert_eq!(check_snr_consistency(&rx(100.0, -30.0, 10.0), &p), Ok(()));
    assert_eq!(
        check_snr_consistency(&rx(100.0, -30.0, p.snr_saturation_knee_db), &p),
        Ok(())
    );
}

#[test]
fn snr_above_saturation_at_threshold() {
    let p = params();
    assert_eq!(
        check_snr_consistency(&rx(100.0, -40.0, p.max_snr_db), &p),
        Ok(())
    );
    assert_eq!(
        check_snr_consistency(&rx(100.0, -40.0, p.max_snr_db + EPS), &p),
        Err(PhysicsViolation::SnrAboveSaturation {
            snr_db: p.max_snr_db + EPS,
            max_snr_db: p.max_snr_db
        })
    );
}

#[test]
fn snr_sensitivity_at_threshold() {
    let p = params();
    let floor = -17.5 - 3.0; // SF10
    assert_eq!(check_sensitivity(&rx(5_000.0, -125.0, floor), &p), Ok(()));
    assert_eq!(
        check_sensitivity(&rx(5_000.0, -125.0, floor - EPS), &p),
        Err(PhysicsViolation::BelowSensitivity {
            metric: SignalMetric::Snr,
            measured: floor - EPS,
            floor,
            spreading_factor: 10
        })
    );
}

#[test]
fn rssi_sensitivity_at_threshold() {
    let p = params();
    let floor = p.min_noise_floor_dbm(125_000) - 17.5 - 3.0;
    assert_eq!(check_sensitivity(&rx(5_000.0, floor, -15.0), &p), Ok(()));
    let err = check_sensitivity(&rx(5_000.0, floor - EPS, -15.0), &p);
    assert!(
        matches!(
            err,
            Err(PhysicsViolation::BelowSensitivity { metric: SignalMetric::Rssi, floor: f, .. })
                if f == floor
        ),
        "{err:?}"
    );
}

#[test]
fn datarate_must_match() {
    assert_eq!(check_datarate(&tx(), &rx(1_000.0, -90.0, 5.0)), Ok(()));
    let other = Reception {
        datarate: DataRate::Sf9bw125,
        ..rx(1_000.0, -90.0, 5.0)
    };
    assert_eq!(
        check_datarate(&tx(), &other),
        Err(PhysicsViolation::DatarateMismatch {
            beacon: DataRate::Sf10bw125,
            witness: DataRate::Sf9bw125
        })
    );
    let none = Reception {
        datarate: DataRate::Unspecified,
        ..other
    };
    assert_eq!(
        check_datarate(&tx(), &none),
        Err(PhysicsViolation::UnspecifiedDatarate)
    );
}

#[test]
fn tx_power_limit_at_threshold() {
    let p = params();
    // US915 max EIRP 36 dBm, 3 dBi: conducted at most 33 + 3 dB tolerance.
    let at = Transmission {
        tx_power_dbm: 36.0,
        ..tx()
    };
    assert_eq!(check_tx_power_limit(&at, 36.0, &p), Ok(()));
    let over = Transmission {
        tx_power_dbm: 36.0 + EPS,
        ..tx()
    };
    assert_eq!(
        check_tx_power_limit(&over, 36.0, &p),
        Err(PhysicsViolation::TxPowerAboveRegionLimit {
            tx_power_dbm: 36.0 + EPS,
            max_dbm: 36.0
        })
    );
}

/// Witnesses whose RSSI is exactly what the mean model predicts for `eirp_dbm`.
fn model_witnesses(eirp_dbm: f64, count: usize) -> Vec<Reception> {
    let p = params();
    (0..count)
        .map(|i| {
            let distance_m = 1_000.0 + 700.0 * i as f64;
            let loss = log_distance_loss_db(904_600_000, distance_m, p.mean_path_loss_exponent);
            rx(distance_m, eirp_dbm + 3.0 - loss, 0.0)
        })
        .collect()
}

#[test]
fn implied_eirp_recovers_the_model() {
    let p = params();
    let median = median_implied_eirp_dbm(&model_witnesses(30.0, 4), &p);
    assert!(
        median.is_some_and(|m| (m - 30.0).abs() < 1e-9),
        "{median:?}"
    );
    assert_eq!(median_implied_eirp_dbm(&[], &p), None);
}

#[test]
fn tx_power_consistency_at_threshold() {
    let p = params();
    let max = max_eirp_deviation_db(5, &p);
    assert!((max - (12.0 + 3.0 * 1.2533 * 10.0 / 5f64.sqrt())).abs() < 1e-9);
    // The witnesses hear an EIRP of 30 dBm; the beaconer reports 30 - max and 30 - max - eps.
    let heard = model_witnesses(30.0, 5);
    let at = Transmission {
        tx_power_dbm: 27.0 - max + EPS / 10.0,
        ..tx()
    };
    assert_eq!(check_tx_power_consistency(&at, &heard, &p), Ok(()));
    let beyond = Transmission {
        tx_power_dbm: 27.0 - max - EPS,
        ..tx()
    };
    let err = check_tx_power_consistency(&beyond, &heard, &p);
    assert!(
        matches!(
            err,
            Err(PhysicsViolation::TxPowerInconsistent { witnesses: 5, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn tx_power_consistency_needs_enough_witnesses() {
    let p = params();
    let absurd = Transmission {
        tx_power_dbm: -40.0,
        ..tx()
    };
    assert_eq!(
        check_tx_power_consistency(&absurd, &model_witnesses(30.0, 2), &p),
        Ok(())
    );
    assert!(check_tx_power_consistency(&absurd, &model_witnesses(30.0, 3), &p).is_err());
}

#[test]
fn check_reception_runs_every_check() {
    let p = params();
    assert_eq!(check_reception(&tx(), &rx(2_000.0, -95.0, 4.0), &p), Ok(()));
    // constant -140 dBm / -20 dB forger at 1 km
    let err = check_reception(&tx(), &rx(1_000.0, -140.0, -20.0), &p);
    assert!(
        matches!(err, Err(PhysicsViolation::RssiTooLow { .. })),
        "{err:?}"
    );
}

#[test]
fn params_round_trip_and_reject_unknown_keys() {
    let text = toml::to_string(&params()).expect("serialise");
    let back: RadioPlausibilityParams = toml::from_str(&text).expect("parse");
    assert_eq!(back, params());
    assert!(toml::from_str::<RadioPlausibilityParams>("nope = 1").is_err());
    let partial: RadioPlausibilityParams =
        toml::from_str("shadowing_margin_db = 10.0").expect("parse");
    assert_eq!(partial.shadowing_margin_db, 10.0);
}

#[test]
fn violations_explain_themselves() {
    let v = PhysicsViolation::RssiTooLow {
        rssi_dbm: -130.0,
        min_dbm: -120.0,
    };
    assert_eq!(v.code(), "rssi_below_lower_bound");
    assert_eq!(v.measured_and_threshold(), Some((-130.0, -120.0)));
    assert!(v.to_string().contains("-130.0 dBm"));
}
