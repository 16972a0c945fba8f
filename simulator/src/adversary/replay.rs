//! [`Replayer`]: the `replay` attack's side task. Every poll it reads the hotspot's accepted
//! reports from the oracle's database and resubmits each one twice at once (the exact signed
//! bytes, and a copy re-signed with a new timestamp, so a new message id), and once more,
//! re-signed, when it is older than `late_after`.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hotspot_agent::OracleClient;
use oracle::store::Store;
use prost::Message;
use schemas::clock::SharedClock;
use schemas::proto::{BeaconReport, Request, WitnessReport, request, response};
use schemas::sign::SingleSigned;
use schemas::{Keypair, PublicKey, message_id};
use sqlx::Row;
use tracing::warn;

/// What the replayer needs.
#[derive(Debug, Clone)]
pub struct ReplayerConfig {
    /// The hotspot's key (re-signed copies are signed with it).
    pub key: Keypair,
    /// The oracle's address and pinned key.
    pub oracle_addr: SocketAddr,
    /// The oracle's pinned key.
    pub oracle_key: PublicKey,
    /// Simulated time between rounds.
    pub poll: Duration,
    /// Simulated age after which a report is replayed a second time.
    pub late_after: Duration,
    /// Real-time limit of one oracle request.
    pub request_timeout: Duration,
}

/// Counters of what the replayer submitted and how the oracle answered.
#[derive(Debug, Default, serde::Serialize)]
pub struct ReplayStats {
    /// Copies submitted (exact and re-signed).
    pub submitted: AtomicU64,
    /// Acknowledged as duplicates of a stored report.
    pub duplicates: AtomicU64,
    /// Acknowledged and stored as new reports (they then get a verdict).
    pub stored: AtomicU64,
    /// Refused at ingest, or not answered.
    pub refused: AtomicU64,
}

/// One stored report of the hotspot.
struct Original {
    id: [u8; 32],
    received_ms: u64,
    request: Request,
}

/// The replay side task of one hotspot.
pub struct Replayer {
    config: ReplayerConfig,
    store: Store,
    clock: SharedClock,
    stats: Arc<ReplayStats>,
    replayed: HashSet<[u8; 32]>,
    replayed_late: HashSet<[u8; 32]>,
    copies: HashSet<[u8; 32]>,
}

impl Replayer {
    /// A replayer reading the oracle's `store` (the attacker's view of its own history).
    pub fn new(config: ReplayerConfig, store: Store, clock: SharedClock) -> Self {
        Self {
            config,
            store,
            clock,
            stats: Arc::default(),
            replayed: HashSet::new(),
            replayed_late: HashSet::new(),
            copies: HashSet::new(),
        }
    }

    /// The live counters.
    pub fn stats(&self) -> Arc<ReplayStats> {
        Arc::clone(&self.stats)
    }

    /// Replays every `poll` until `shutdown`.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let client = match transport::client_endpoint()
            .map_err(|e| e.to_string())
            .and_then(|endpoint| {
                OracleClient::new(
                    endpoint,
                    self.config.oracle_addr,
                    self.config.oracle_key,
                    self.config.request_timeout,
                )
                .map_err(|e| e.to_string())
            }) {
            Ok(client) => client,
            Err(error) => return warn!(%error, "replayer cannot reach the oracle"),
        };
        tokio::pin!(shutdown);
        loop {
            let pause = self.clock.to_real(self.config.poll);
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
            match self.originals().await {
                Ok(originals) => self.round(&client, originals).await,
                Err(error) => warn!(%error, "replayer cannot read its reports"),
            }
        }
        client.close().await;
    }

    /// Submits the replays due for `originals`.
    async fn round(&mut self, client: &OracleClient, originals: Vec<Original>) {
        let now_ms = self.clock.now_ms();
        let late_ms = self.config.late_after.as_millis() as u64;
        for original in originals {
            if self.replayed.insert(original.id) {
                self.submit(client, &original.request).await;
                let copy = self.resigned(&original.request, now_ms);
                self.submit(client, &copy).await;
            } else if original.received_ms + late_ms <= now_ms
                && self.replayed_late.insert(original.id)
            {
                let copy = self.resigned(&original.request, now_ms);
                self.submit(client, &copy).await;
            }
        }
    }

    /// The request with its report re-stamped at `now_ms` and re-signed (a new message id).
    fn resigned(&mut self, original: &Request, now_ms: u64) -> Request {
        let mut request = original.clone();
        match &mut request.msg {
            Some(request::Msg::Beacon(b)) => {
                b.timestamp_ms = now_ms;
                b.sign_with(&self.config.key);
                self.copies.insert(message_id(b));
            }
            Some(request::Msg::Witness(w)) => {
                w.timestamp_ms = now_ms;
                w.sign_with(&self.config.key);
                self.copies.insert(message_id(w));
            }
            _ => {}
        }
        request
    }

    async fn submit(&self, client: &OracleClient, request: &Request) {
        self.stats.submitted.fetch_add(1, Ordering::Relaxed);
        let counter = match client.submit(request).await.map(|r| r.msg) {
            Ok(Some(response::Msg::Ack(ack))) if ack.duplicate => &self.stats.duplicates,
            Ok(Some(response::Msg::Ack(_))) => &self.stats.stored,
            _ => &self.stats.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The hotspot's stored beacon and witness reports (not its own replayed copies), oldest
    /// first.
    async fn originals(&self) -> Result<Vec<Original>, sqlx::Error> {
        let key = self.config.key.public().to_vec();
        let mut originals = Vec::new();
        let queries = [
            (
                "beacon_reports",
                "SELECT id, received_ms, message FROM beacon_reports WHERE hotspot_key = $1 ORDER BY received_ms",
            ),
            (
                "witness_reports",
                "SELECT id, received_ms, message FROM witness_reports WHERE hotspot_key = $1 ORDER BY received_ms",
            ),
        ];
        for (table, sql) in queries {
            let rows = sqlx::query(sql)
                .bind(key.clone())
                .fetch_all(self.store.db().pool())
                .await?;
            for row in rows {
                let id: Vec<u8> = row.try_get("id")?;
                let message: Vec<u8> = row.try_get("message")?;
                let received_ms = row.try_get::<i64, _>("received_ms")?.max(0) as u64;
                let Ok(id) = <[u8; 32]>::try_from(id) else {
                    continue;
                };
                if self.copies.contains(&id) {
                    continue;
                }
                if let Some(request) = decode(table, &message) {
                    originals.push(Original {
                        id,
                        received_ms,
                        request,
                    });
                }
            }
        }
        originals.sort_by_key(|o| o.received_ms);
        Ok(originals)
    }
}

/// The stored message of `table` as a request; `None` if it does not decode.
fn decode(table: &str, message: &[u8]) -> Option<Request> {
    let msg = if table == "beacon_reports" {
        request::Msg::Beacon(BeaconReport::decode(message).ok()?)
    } else {
        request::Msg::Witness(WitnessReport::decode(message).ok()?)
    };
    Some(Request { msg: Some(msg) })
}
