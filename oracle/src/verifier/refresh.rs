//! Parameters in force per epoch, and the HIP 17 density map and witness-graph trust rebuilt at
//! every refresh bucket (trust from evidence kept up to date between refreshes).

use super::spent::On;
use super::{Verifier, governed};
use crate::density::HexDensityMap;
use crate::store::StoreError;
use crate::trust;
use schemas::PublicKey;
use std::collections::HashMap;
use std::ops::Range;

impl Verifier {
    /// Switches to the verifier parameters in force for `epoch` (see [`governed`]); a switch
    /// rebuilds the density map and trust under the new parameters. The epoch length is the
    /// same in every set (checked at start).
    pub(super) async fn use_params_of(&mut self, epoch: u64) -> Result<(), StoreError> {
        let in_force = self
            .governed
            .for_epoch(self.store.db().pool(), epoch)
            .await
            .map_err(|e| {
                tracing::error!(epoch, error = %e, "no usable verifier parameters for the epoch; its reports stay pending");
                match e {
                    governed::GovernedError::Read(db::parameters::ParametersError::Db(e)) => {
                        StoreError::Sql(e)
                    }
                    other => StoreError::Corrupt {
                        table: "parameter_sets",
                        reason: other.to_string(),
                    },
                }
            })?;
        if in_force.source != self.params_source {
            tracing::info!(epoch, source = ?in_force.source, "verifier parameters changed");
            self.params = in_force.params.clone();
            self.params_source = in_force.source;
            self.density_bucket = None;
        }
        Ok(())
    }

    /// Rebuilds the density map when `received_ms` enters a new refresh bucket, from the
    /// hotspots active at the bucket's start (a valid beacon with a valid witness within the
    /// interactivity window).
    pub(super) async fn refresh(&mut self, received_ms: u64) -> Result<(), StoreError> {
        let refresh_ms = self.params.density_refresh.as_millis().max(1) as u64;
        let bucket = received_ms / refresh_ms;
        if self.density_bucket == Some(bucket) {
            return Ok(());
        }
        // The refresh reads stored verdicts: store the ones verified so far first.
        self.store_unsaved().await?;
        let refreshing = std::time::Instant::now();
        let start = bucket * refresh_ms;
        let horizon = start.saturating_sub(self.params.interactivity_window.as_millis() as u64);
        let mut active: Vec<(PublicKey, u64)> = self.registry.with(|hotspots| {
            self.state
                .iter()
                .filter(|(_, s)| {
                    s.last_active_ms
                        .is_some_and(|ms| ms >= horizon && ms < start)
                })
                .filter_map(|(key, _)| {
                    hotspots
                        .get(key)
                        .map(|info| (*key, u64::from(info.location)))
                })
                .collect()
        });
        active.sort();
        let cells = active
            .into_iter()
            .filter_map(|(_, cell)| h3o::CellIndex::try_from(cell).ok());
        // The old map goes first: two at once would take room the trust evaluation needs.
        self.density = HexDensityMap::default();
        self.density = HexDensityMap::new(cells, &self.params.density);
        self.spent.add(On::Density, refreshing);
        if self.params.checks.graph_trust {
            let window_start = start.saturating_sub(self.params.trust.window.as_millis() as u64);
            self.update_trust_window(window_start..start).await?;
            let owners: HashMap<PublicKey, PublicKey> = self
                .registry
                .with(|hotspots| hotspots.iter().map(|(k, info)| (*k, info.owner)).collect());
            let evidence = self.trust_window.evidence();
            let evaluating = std::time::Instant::now();
            self.trust = trust::evaluate(evidence, |k| owners.get(k).copied(), &self.params.trust);
            self.spent.add(On::Evaluating, evaluating);
            tracing::debug!(
                edges = evidence.edge_count(),
                trusted = self.trust.trusted.len(),
                distrusted = self.trust.distrusted.len(),
                "witness-graph trust refreshed"
            );
        }
        // Only now: a refresh that failed part-way (a read of the trust window) is done again
        // in full when the proof of coverage that needed it is retried, never skipped.
        self.density_bucket = Some(bucket);
        // The checks of this window are done or soon done: the next window's can start. Not
        // before the evaluation: their results would add to its peak of memory.
        self.speculate(self.params.epoch_of(received_ms)).await;
        self.spent.add(On::Refreshing, refreshing);
        Ok(())
    }

    /// Brings the trust evidence to the reports received in `range`: those that left or
    /// entered it since the last refresh (the entering ones stored since then from memory), or
    /// the whole range when it cannot slide.
    async fn update_trust_window(&mut self, range: Range<u64>) -> Result<(), StoreError> {
        let step = if self.incremental_trust {
            self.trust_window.step(range.clone())
        } else {
            trust::Step::Rebuild(range.clone())
        };
        let (reading, leaving) = match &step {
            trust::Step::Rebuild(all) => (all.clone(), None),
            trust::Step::Slide {
                leaving,
                entering_stored,
                ..
            } => (entering_stored.clone(), Some(leaving.clone())),
        };
        let evidence = self.trust_window.begin(&step);
        let mut unmatched = None;
        if let Some(leaving) = leaving.filter(|r| !r.is_empty()) {
            self.store
                .trust_reports(leaving.start, leaving.end, |b, w, reports| {
                    if let Err(e) = evidence.remove_reports(&b, &w, &reports) {
                        unmatched.get_or_insert(e);
                    }
                })
                .await?;
            for (hotspot, n) in self
                .store
                .beacons_in_window(leaving.start, leaving.end)
                .await?
            {
                if let Err(e) = evidence.remove_beacons(&hotspot, n) {
                    unmatched.get_or_insert(e);
                }
            }
        }
        if let Some(e) = unmatched {
            // A bug or a database changed behind the verifier: never judge on wrong evidence.
            tracing::error!(error = %e, ?range, "trust evidence does not match the stored reports; reading the window afresh");
            self.trust_window.invalidate();
            return Box::pin(self.update_trust_window(range)).await;
        }
        if !reading.is_empty() {
            self.store
                .trust_reports(reading.start, reading.end, |b, w, reports| {
                    evidence.add_reports(b, w, &reports)
                })
                .await?;
            for (hotspot, n) in self
                .store
                .beacons_in_window(reading.start, reading.end)
                .await?
            {
                evidence.add_beacons(hotspot, n);
            }
        }
        self.trust_window.add_ahead(&step);
        let stored_before = self.store.stored_before_bound(range.end).await?;
        self.trust_window.finish(range, stored_before);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use crate::store::Store;
    use crate::verifier::VerifierParams;
    use schemas::clock::{ScaledClock, SharedClock};
    use std::sync::Arc;

    /// A trust window that cannot be read fails the refresh; the retry must read it, not take
    /// the bucket as refreshed and judge its proofs of coverage on the previous trust.
    #[tokio::test]
    async fn a_refresh_that_failed_is_done_again_in_full() {
        let fresh = db::test_support::sqlite().await.expect("fresh database");
        let store = Store::new(fresh.db.clone());
        let registry = Registry::load(&store).await.expect("registry");
        let params = VerifierParams::default();
        assert!(params.checks.graph_trust);
        let refresh_ms = params.density_refresh.as_millis() as u64;
        let window_ms = params.trust.window.as_millis() as u64;
        let clock: SharedClock = Arc::new(ScaledClock::new(1_767_225_600_000_000_000, 1.0));
        let mut verifier = Verifier::new(store, registry, params, clock);
        let received_ms = 1_767_225_600_000 + refresh_ms / 2;
        let start = received_ms / refresh_ms * refresh_ms;
        let execute = |sql: &'static str| {
            let pool = fresh.db.pool().clone();
            async move { sqlx::raw_sql(sql).execute(&pool).await.expect(sql) }
        };
        execute("ALTER TABLE witness_verdicts RENAME TO witness_verdicts_hidden").await;
        assert!(verifier.refresh(received_ms).await.is_err());
        assert_eq!(verifier.trust_window.covers(), None);
        execute("ALTER TABLE witness_verdicts_hidden RENAME TO witness_verdicts").await;
        verifier.refresh(received_ms).await.expect("refresh");
        assert_eq!(
            verifier.trust_window.covers(),
            Some(&(start - window_ms..start))
        );
        assert_eq!(verifier.density_bucket, Some(start / refresh_ms));
    }
}
