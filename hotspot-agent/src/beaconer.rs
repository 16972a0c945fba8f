//! The beaconer: at a random time in each beacon segment, derive a beacon from fresh oracle
//! entropy, transmit it, and report it once the radio confirms the transmission.

use crate::agent::{Context, TxRequest};
use crate::lora::proprietary_frame;
use crate::oracle_client::OracleError;
use crate::radio::{RadioError, TxDone, TxFrame};
use crate::schedule::{next_beacon_time, segment_of};
use crate::stats::AgentStats;
use crate::status::LastBeacon;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schemas::beacon::{Beacon, BeaconError, LOCAL_ENTROPY_SIZE, RemoteEntropy, derive};
use schemas::proto::{BeaconReport, Entropy, Request, request};
use schemas::sign::SingleSigned;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// Why a beacon was not sent.
#[derive(Debug, thiserror::Error)]
pub enum BeaconFailure {
    /// No valid entropy from the oracle.
    #[error("no entropy: {0}")]
    Entropy(#[from] OracleError),
    /// The beacon could not be derived.
    #[error("derivation: {0}")]
    Derive(#[from] BeaconError),
    /// The radio did not transmit.
    #[error("radio: {0}")]
    Radio(#[from] RadioError),
}

/// The unsigned report of a transmitted beacon.
pub fn beacon_report(
    beacon: &Beacon,
    entropy: &Entropy,
    local: &[u8],
    done: TxDone,
    now_ms: u64,
) -> BeaconReport {
    BeaconReport {
        local_entropy: local.to_vec(),
        remote_entropy: entropy.data.clone(),
        data: beacon.data.clone(),
        frequency_hz: beacon.frequency_hz,
        datarate: beacon.datarate as i32,
        tx_power_ddbm: done.tx_power_ddbm,
        timestamp_ms: now_ms,
        tmst: done.tmst,
        radio_timestamp_ns: done.radio_timestamp_ns,
        ..Default::default()
    }
}

/// The transmission of `beacon`: a Proprietary frame at the highest allowed conducted power.
pub fn beacon_frame(beacon: &Beacon) -> TxFrame {
    TxFrame {
        payload: proprietary_frame(&beacon.data),
        frequency_hz: beacon.frequency_hz,
        datarate: beacon.datarate,
        power_ddbm: beacon.max_conducted_power_dbm * 10,
    }
}

pub(crate) struct Beaconer<'a> {
    ctx: &'a Context,
    transmitter: mpsc::Sender<TxRequest>,
    rng: StdRng,
    last_segment: Option<u64>,
}

impl<'a> Beaconer<'a> {
    pub(crate) fn new(ctx: &'a Context, transmitter: mpsc::Sender<TxRequest>) -> Self {
        Self {
            ctx,
            transmitter,
            rng: ctx
                .config
                .rng_seed
                .map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
            last_segment: None,
        }
    }

    /// Beacons once per segment, forever (or never, when beaconing is disabled).
    pub(crate) async fn run(mut self) {
        if !self.ctx.config.beacon_enabled {
            info!("beaconing disabled");
            return std::future::pending().await;
        }
        let interval = self.ctx.config.beacon_interval;
        loop {
            let now = self.ctx.clock.now_ms();
            let at = next_beacon_time(now, interval, self.last_segment, &mut self.rng);
            info!(in_s = (at - now) / 1000, "next beacon scheduled");
            tokio::time::sleep(self.ctx.clock.to_real(Duration::from_millis(at - now))).await;
            let result = self.beacon().await;
            // The attempt may have been delayed (reconnecting) past its segment: count it in
            // the segment it ended in, so a segment never gets two beacons.
            self.last_segment = Some(segment_of(self.ctx.clock.now_ms().max(at), interval));
            let outcome = match result {
                Ok(report) => {
                    AgentStats::bump(&self.ctx.stats.beacons_sent);
                    let outcome = format!(
                        "transmitted at {} Hz, {} dBm x10; report queued",
                        report.frequency_hz, report.tx_power_ddbm
                    );
                    self.ctx.queue(Request {
                        msg: Some(request::Msg::Beacon(report)),
                    });
                    (true, outcome)
                }
                Err(error) => {
                    AgentStats::bump(&self.ctx.stats.beacon_failures);
                    warn!(%error, "beacon not sent; nothing is reported for it");
                    (false, format!("not sent: {error}"))
                }
            };
            self.ctx.board.beacon(LastBeacon {
                at_ms: self.ctx.clock.now_ms(),
                transmitted: outcome.0,
                outcome: outcome.1,
            });
        }
    }

    /// Derives, transmits and signs one beacon.
    async fn beacon(&mut self) -> Result<BeaconReport, BeaconFailure> {
        // One attempt (after any reconnect backoff): without entropy now, this segment has no beacon.
        let entropy = self.ctx.oracle.entropy().await?;
        let local: [u8; LOCAL_ENTROPY_SIZE] = self.rng.random();
        let remote = RemoteEntropy {
            data: &entropy.data,
            timestamp_ms: entropy.timestamp_ms,
            version: entropy.version,
        };
        let beacon = derive(
            remote,
            &local,
            self.ctx.plan,
            self.ctx.config.antenna_gain_ddbi,
        )?;
        let frame = beacon_frame(&beacon);
        info!(frequency_hz = frame.frequency_hz, datarate = ?frame.datarate, power_ddbm = frame.power_ddbm, "beaconing");
        let done = self.transmit(frame, &beacon.data).await?;
        let mut report = beacon_report(&beacon, &entropy, &local, done, self.ctx.clock.now_ms());
        report.sign_with(&self.ctx.keypair);
        Ok(report)
    }

    async fn transmit(&self, frame: TxFrame, beacon_data: &[u8]) -> Result<TxDone, RadioError> {
        let (reply, done) = oneshot::channel();
        let request = TxRequest {
            frame,
            beacon_data: beacon_data.to_vec(),
            reply,
        };
        self.transmitter
            .send(request)
            .await
            .map_err(|_| RadioError::Stopped)?;
        done.await.map_err(|_| RadioError::Stopped)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::proto::DataRate;
    use schemas::region::{Region, channel_plan};

    #[test]
    fn report_carries_the_radio_confirmation() {
        let plan = channel_plan(Region::Us915).expect("plan");
        let entropy = Entropy {
            data: vec![5; 32],
            timestamp_ms: 1_700_000_000_000,
            ..Default::default()
        };
        let remote = RemoteEntropy {
            data: &entropy.data,
            timestamp_ms: entropy.timestamp_ms,
            version: 0,
        };
        let beacon = derive(remote, &[1, 2, 3, 4], plan, 12).expect("derive");
        let frame = beacon_frame(&beacon);
        assert_eq!(frame.payload[0], 0xE0);
        assert_eq!(&frame.payload[1..], &beacon.data[..]);
        assert_eq!(frame.power_ddbm, beacon.max_conducted_power_dbm * 10);
        let done = TxDone {
            tx_power_ddbm: 270,
            tmst: 99,
            radio_timestamp_ns: 5,
        };
        let report = beacon_report(&beacon, &entropy, &[1, 2, 3, 4], done, 77);
        assert_eq!(report.tx_power_ddbm, 270);
        assert_eq!(
            (report.tmst, report.radio_timestamp_ns, report.timestamp_ms),
            (99, 5, 77)
        );
        assert_eq!(report.remote_entropy, vec![5; 32]);
        assert_eq!(report.datarate(), DataRate::Sf9bw125);
    }
}
