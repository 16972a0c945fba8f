//! Composition root: database, registry, verifier, entropy, ingest and the QUIC server, started
//! together and stopped together.

use crate::ingest::Ingest;
use crate::registry::Registry;
use crate::settings::Settings;
use crate::store::Store;
use crate::verifier::{Event, Verifier, VerifierStats};
use crate::{entropy, server};
use schemas::clock::SharedClock;
use schemas::{Keypair, PublicKey};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Errors starting the oracle.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Tls(#[from] transport::TlsError),
    /// The governance parameter sets cannot be used with these settings.
    #[error("governance parameters: {0}")]
    Parameters(#[from] crate::verifier::governed::GovernedError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running oracle.
pub struct Oracle {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The key agents pin.
    pub public_key: PublicKey,
    /// Its database.
    pub store: Store,
    verifier: mpsc::UnboundedSender<Event>,
    stats: watch::Receiver<VerifierStats>,
    stop: watch::Sender<bool>,
    /// Each part's task, in the order they are stopped.
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

/// How long [`Oracle::shutdown`] waits for its parts to stop before it aborts the ones left.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

impl Oracle {
    /// Opens the database and starts every part on `settings.listen`.
    pub async fn start(
        settings: &Settings,
        key: Keypair,
        clock: SharedClock,
    ) -> Result<Self, StartError> {
        let db = db::Db::connect(&settings.database_url()).await?;
        // Refuse to start when the epoch length differs from the governance parameter set's
        // or an applied set's verifier table is invalid (see `verifier::governed`).
        let applied = db::parameters::history(db.pool())
            .await
            .map_err(crate::verifier::governed::GovernedError::from)?;
        crate::verifier::governed::check_startup(&applied, &settings.verifier)?;
        let store = Store::new(db);
        let registry = Registry::load(&store).await?;
        let (stop, stop_rx) = watch::channel(false);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let mut params = settings.verifier.clone();
        params.entropy_lifespan = settings.entropy.lifespan;
        let verifier = Verifier::new(store.clone(), registry.clone(), params, Arc::clone(&clock));
        let stats = verifier.stats();
        let mut tasks = Vec::new();
        let shutdown = stopped(stop_rx.clone());
        tasks.push(("verifier", tokio::spawn(async move {
            if let Err(e) = verifier.run(events_rx, shutdown).await {
                tracing::error!(error = %e, "verifier stopped on a storage error; unverified reports resume at the next start");
            }
        })));
        let (board, board_rx) = watch::channel(None);
        // Agents ask for entropy as soon as they connect: have one before listening.
        entropy::publish(&key, &store, &clock, &board, &events_tx).await?;
        tasks.push((
            "entropy",
            tokio::spawn(entropy::run(
                key.clone(),
                store.clone(),
                Arc::clone(&clock),
                settings.entropy.tick,
                board,
                events_tx.clone(),
                stopped(stop_rx.clone()),
            )),
        ));
        let (ingest, writer) = Ingest::new(
            store.clone(),
            registry,
            Arc::clone(&clock),
            events_tx.clone(),
            board_rx,
        );
        tasks.push(("ingest writer", writer));
        let config = transport::server_config(&key, transport::ALPN_ORACLE)?;
        let endpoint = quinn::Endpoint::server(config, settings.listen).map_err(|source| {
            StartError::Bind {
                addr: settings.listen,
                source,
            }
        })?;
        let addr = endpoint.local_addr().map_err(|source| StartError::Bind {
            addr: settings.listen,
            source,
        })?;
        tasks.push((
            "server",
            tokio::spawn(server::serve(endpoint, Arc::new(ingest), stopped(stop_rx))),
        ));
        tracing::info!(%addr, key = %key.public(), "oracle listening");
        Ok(Self {
            addr,
            public_key: key.public(),
            store,
            verifier: events_tx,
            stats,
            stop,
            tasks,
        })
    }

    /// Closes every open proof of coverage now and waits until its verdicts are stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.verifier.send(Event::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// The verifier's counters so far.
    pub fn verifier_stats(&self) -> VerifierStats {
        *self.stats.borrow()
    }

    /// Stops accepting, lets the parts finish, and closes the database. A part still running
    /// after [`SHUTDOWN_GRACE`] is named in an error and aborted: what it stored stays stored
    /// (every write is one transaction) and what it had not stored resumes at the next start.
    /// Closing the database waits as long again for connections in use.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for (part, mut task) in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::error!(
                    part,
                    grace_s = SHUTDOWN_GRACE.as_secs(),
                    "a part of the oracle did not stop in time; aborting it"
                );
                task.abort();
                let _ = task.await;
            }
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, self.store.close())
            .await
            .is_err()
        {
            tracing::error!(
                "database connections still in use after the grace period; leaving them"
            );
        }
    }
}
