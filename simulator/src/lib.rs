//! The network simulator: a radio medium service plus a runner that starts a real oracle and
//! one real agent per hotspot, runs a scenario on a scaled clock and reports the outcome.
//!
//! # Layout
//! - [`scenario`]: the scenario TOML format.
//! - [`radio_model`]: LoRa propagation physics (log-distance, shadowing, sensitivity).
//! - [`medium`]: the radio medium as a QUIC service agents use as their radio.
//! - [`run`]: starts everything and runs a scenario; [`report`]: what came out.
//! - [`adversary`]: the attacks (doctored radios, the colluders' internet, replays).
//! - [`keys`]: deterministic keys from the scenario seed; [`demo`]: the built-in scenario.

pub mod adversary;
pub mod demo;
pub mod demo_rewards;
pub mod keys;
pub mod medium;
pub mod radio_model;
pub mod report;
pub mod run;
pub mod scenario;
