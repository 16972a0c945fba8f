//! Entropy: a new unpredictable, signed value every tick. It is stored before it is served, so
//! the verifier can always find the entropy a beacon names.

use crate::store::{Store, StoreError};
use crate::verifier::Event;
use schemas::Keypair;
use schemas::clock::SharedClock;
use schemas::proto::Entropy;
use schemas::sign::SingleSigned;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Entropy format version (0: 32 bytes, seconds in the beacon seed, as Helium).
pub const ENTROPY_VERSION: u32 = 0;

/// A new signed entropy value for `now_ms`.
pub fn make_entropy(key: &Keypair, now_ms: u64) -> Entropy {
    let noise: [u8; 32] = rand::random();
    let mut hasher = Sha256::new();
    hasher.update(noise);
    hasher.update(now_ms.to_le_bytes());
    let mut entropy = Entropy {
        data: hasher.finalize().to_vec(),
        timestamp_ms: now_ms,
        version: ENTROPY_VERSION,
        ..Default::default()
    };
    entropy.sign_with(key);
    entropy
}

/// Stores one new entropy value, then hands it to the verifier and serves it.
pub async fn publish(
    key: &Keypair,
    store: &Store,
    clock: &SharedClock,
    board: &watch::Sender<Option<Entropy>>,
    verifier: &mpsc::UnboundedSender<Event>,
) -> Result<(), StoreError> {
    let entropy = make_entropy(key, clock.now_ms());
    store.save_entropy(&entropy).await?;
    let _ = verifier.send(Event::Entropy(entropy.clone()));
    board.send_replace(Some(entropy));
    Ok(())
}

/// Publishes entropy every `tick` until `shutdown`, the first value one tick from now (the
/// oracle publishes one before it listens, see [`publish`]).
pub async fn run(
    key: Keypair,
    store: Store,
    clock: SharedClock,
    tick: Duration,
    board: watch::Sender<Option<Entropy>>,
    verifier: mpsc::UnboundedSender<Event>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(clock.to_real(tick)) => {}
        }
        if let Err(e) = publish(&key, &store, &clock, &board, &verifier).await {
            tracing::error!(error = %e, "could not store entropy; keeping the previous value");
        }
    }
}
