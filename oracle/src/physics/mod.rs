//! Physics Helium never checked: two-sided radio plausibility and time of flight.
//!
//! Pure and deterministic: plain numbers in, a [`PhysicsViolation`] (measured value and
//! threshold) or a measurement out. The verifier maps the violations into its own reasons.
//! The model, every threshold and the calibration on real receptions are in `docs/physics.md`.
//!
//! # Layout
//! - [`radio`]: RSSI lower bound, SNR consistency, sensitivity, datarate, transmit power
//!   (region limit and consistency with the witnesses), with [`radio::RadioPlausibilityParams`].
//! - [`tdoa`]: multilateration of the beacon's origin from the witnesses' GPS radio timestamps,
//!   the origin check and the per-witness timing check, with [`tdoa::TdoaParams`].
//! - [`violation`] holds [`PhysicsViolation`], the reasons with measured value and threshold.

pub mod radio;
pub mod tdoa;
mod tdoa_robust;
mod tdoa_solver;
pub mod violation;

pub use violation::{PhysicsViolation, SignalMetric};
