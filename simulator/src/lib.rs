//! simulator
pub mod medium;
pub mod radio_model;
pub mod scenario;
