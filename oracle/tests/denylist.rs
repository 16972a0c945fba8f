//! Governance denylists: built from TOML, signed M of N, refused with too few signatures or an
//! old version, and applied to the database the verifier reads (SQLite and PostgreSQL).

use oracle::denylist_cli::{self, DenylistError};
use oracle::store::Store;
use schemas::governance::GovernanceError;
use schemas::{Keypair, PublicKey};

const T: u64 = 1_763_800_000_000;

fn list_toml(version: u64, spoofer: PublicKey, a: PublicKey, b: PublicKey) -> String {
    format!(
        "version = {version}\n\
         [[entries]]\nkey = \"{spoofer}\"\nreason = \"asserted 40 km from where it is heard\"\nexpires = \"2027-01-01T00:00:00Z\"\n\
         [[entries]]\nedge = [\"{a}\", \"{b}\"]\nreason = \"ring\"\nexpires = \"2027-01-01T00:00:00Z\"\n"
    )
}

async fn scenario(store: Store) {
    let governance: Vec<Keypair> = (1..=3).map(|i| Keypair::from_seed([i; 32])).collect();
    let signers: Vec<PublicKey> = governance.iter().map(Keypair::public).collect();
    let [spoofer, a, b] = [7u8, 8, 9].map(|i| PublicKey::from_bytes([i; 32]));
    let mut signed = denylist_cli::from_toml(&list_toml(1, spoofer, a, b), T).expect("toml");
    signed.add_signature(&governance[0]).expect("sign");
    let refused = denylist_cli::apply(&store, &signed, &signers, 2, T).await;
    assert!(matches!(
        refused,
        Err(DenylistError::Governance(
            GovernanceError::TooFewSignatures {
                valid: 1,
                threshold: 2
            }
        ))
    ));
    assert!(
        store.denylist().await.expect("read").is_empty(),
        "nothing applied"
    );

    signed.add_signature(&governance[2]).expect("sign");
    assert_eq!(
        denylist_cli::apply(&store, &signed, &signers, 2, T)
            .await
            .expect("2 of 3 applies"),
        2
    );
    let list = store.denylist().await.expect("read");
    assert_eq!(
        list.key(&spoofer, T).map(|e| e.reason.as_str()),
        Some("asserted 40 km from where it is heard")
    );
    assert!(list.edge(b, a, T).is_some(), "edges are undirected");
    assert!(
        list.key(&spoofer, T - 1).is_none(),
        "applies from when it was applied"
    );
    let stale = denylist_cli::apply(&store, &signed, &signers, 2, T + 1).await;
    assert!(matches!(
        stale,
        Err(DenylistError::Stale {
            version: 1,
            applied: 1
        })
    ));
}

#[tokio::test]
async fn denylist_on_sqlite() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    scenario(Store::new(db.db.clone())).await;
}

#[tokio::test]
async fn denylist_on_postgres() {
    let db = db::test_support::postgres().await.expect("postgres");
    scenario(Store::new(db.db.clone())).await;
}

#[test]
fn malformed_lists_are_refused_with_the_entry_named() {
    let err = denylist_cli::from_toml(
        "version = 1\n[[entries]]\nreason = \"x\"\nexpires = \"2027-01-01T00:00:00Z\"\n",
        T,
    )
    .expect_err("no key");
    assert!(err.to_string().starts_with("entry 0:"), "{err}");
    let err = denylist_cli::from_toml("version = 1\n[[entries]]\nkey = \"11111111111111111111111111111111\"\nreason = \"x\"\nexpires = \"soon\"\n", T)
        .expect_err("bad date");
    assert!(err.to_string().contains("expires"), "{err}");
    assert!(denylist_cli::decode(b"\xff\xff").is_err());
}
