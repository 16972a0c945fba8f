//! The doctored radios: [`ForgingRadio`] rewrites what the air delivers, [`CollusionRadio`]
//! adds the colluders' internet, [`NoAir`] is no radio at all. All are cancel-safe in
//! [`Radio::recv`]: each `select!` branch is, and nothing is held across an await.

use std::sync::Arc;

use hotspot_agent::{Radio, RadioError, RxFrame, TxDone, TxFrame};
use schemas::PublicKey;
use schemas::clock::SharedClock;
use tokio::sync::mpsc;

use super::{Forger, Heard, InternetHub};
use crate::medium::TruthBook;

/// What the truth book says about a frame heard over the air.
fn heard_over_air(frame: &RxFrame, truth: &TruthBook) -> Option<Heard> {
    let t = truth.lookup(&frame.payload)?;
    Some(Heard {
        payload: frame.payload.clone(),
        frequency_hz: frame.frequency_hz,
        datarate: frame.datarate,
        tx_power_ddbm: t.tx_power_ddbm,
        transmitter: t.transmitter,
        tx_time_ns: t.tx_time_ns,
    })
}

/// A radio whose receptions are rewritten by a [`Forger`] (a modified packet forwarder).
/// Frames the truth book does not know are passed on unchanged; transmissions are untouched.
#[derive(Debug)]
pub struct ForgingRadio<R> {
    inner: R,
    forger: Forger,
    truth: TruthBook,
}

impl<R: Radio> ForgingRadio<R> {
    /// Forges what `inner` hears.
    pub fn new(inner: R, forger: Forger, truth: TruthBook) -> Self {
        Self {
            inner,
            forger,
            truth,
        }
    }
}

impl<R: Radio> Radio for ForgingRadio<R> {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        self.inner.transmit(frame).await
    }

    async fn recv(&mut self) -> Option<RxFrame> {
        let frame = self.inner.recv().await?;
        let forged = heard_over_air(&frame, &self.truth).and_then(|h| self.forger.forge(&h));
        Some(forged.unwrap_or(frame))
    }
}

/// A hotspot that is not on the air: transmissions go nowhere (confirmed at once, at full
/// power) and nothing is ever heard. Wrap it in a [`CollusionRadio`].
#[derive(Debug)]
pub struct NoAir {
    clock: SharedClock,
}

impl NoAir {
    /// No radio, reading time from `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self { clock }
    }
}

impl Radio for NoAir {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        let now_ns = self.clock.now_ns();
        Ok(TxDone {
            tx_power_ddbm: frame.power_ddbm,
            // Truncation is the counter's wrap-around.
            tmst: (now_ns / 1_000) as u32,
            radio_timestamp_ns: now_ns,
        })
    }

    async fn recv(&mut self) -> Option<RxFrame> {
        std::future::pending().await
    }
}

/// Where a [`CollusionRadio`] publishes.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    /// Channels that get this hotspot's own beacons.
    pub own: Vec<String>,
    /// Channels that get every beacon this hotspot hears over the air (a relay).
    pub heard: Vec<String>,
}

/// A radio plus the colluders' internet: publishes own (and, for relays, heard) beacons to the
/// [`InternetHub`], and hands beacons from its inbox to the agent as forged receptions.
#[derive(Debug)]
pub struct CollusionRadio<R> {
    air: R,
    me: PublicKey,
    hub: Arc<InternetHub>,
    channels: Channels,
    truth: TruthBook,
    inbox: mpsc::UnboundedReceiver<Heard>,
    forger: Forger,
    clock: SharedClock,
}

impl<R: Radio> CollusionRadio<R> {
    /// Hotspot `me` on `air`, publishing to `channels` of `hub`; `inbox` gets what its
    /// subscriptions accept, forged with `forger`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        air: R,
        me: PublicKey,
        hub: Arc<InternetHub>,
        channels: Channels,
        inbox: mpsc::UnboundedReceiver<Heard>,
        forger: Forger,
        truth: TruthBook,
        clock: SharedClock,
    ) -> Self {
        Self {
            air,
            me,
            hub,
            channels,
            truth,
            inbox,
            forger,
            clock,
        }
    }

    fn publish(&self, channels: &[String], heard: &Heard) {
        for channel in channels {
            let reached = self.hub.publish(channel, &self.me, heard);
            tracing::debug!(channel, reached, "beacon relayed to colluders");
        }
    }
}

impl<R: Radio> Radio for CollusionRadio<R> {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        let done = self.air.transmit(frame.clone()).await?;
        let tx_time_ns = match done.radio_timestamp_ns {
            0 => self.clock.now_ns(),
            ns => ns,
        };
        let heard = Heard {
            payload: frame.payload,
            frequency_hz: frame.frequency_hz,
            datarate: frame.datarate,
            tx_power_ddbm: done.tx_power_ddbm,
            transmitter: self.me,
            tx_time_ns,
        };
        self.publish(&self.channels.own, &heard);
        Ok(done)
    }

    async fn recv(&mut self) -> Option<RxFrame> {
        loop {
            tokio::select! {
                frame = self.air.recv() => {
                    let frame = frame?;
                    if !self.channels.heard.is_empty()
                        && let Some(heard) = heard_over_air(&frame, &self.truth)
                    {
                        self.publish(&self.channels.heard, &heard);
                    }
                    return Some(frame);
                }
                Some(heard) = self.inbox.recv() => {
                    if let Some(frame) = self.forger.forge(&heard) {
                        return Some(frame);
                    }
                }
            }
        }
    }
}
