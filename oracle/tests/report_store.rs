//! Storing reports: the ingest writer's path (`Store::insert_reports`: arrays on PostgreSQL,
//! multi-row `VALUES` on SQLite) answers and stores exactly what the reference path, one
//! statement per report (`Store::insert_reports_one_by_one`), does, on both databases:
//! new reports, the same report twice in one call, and reports stored by an earlier call.

use oracle::store::{NewReport, ReportKind, Store, Stored};
use schemas::PublicKey;
use sqlx::Row;

const START_MS: u64 = 1_767_225_600_000;

/// Report `n` of `kind`: its id, signer, payload and bytes all differ with `n`.
fn report(kind: ReportKind, n: u8, received_ms: u64) -> NewReport {
    NewReport {
        kind,
        id: [n; 32],
        hotspot_key: PublicKey::from_bytes([n.wrapping_mul(7); 32]),
        data: vec![n; 51],
        received_ms,
        message: vec![n, kind as u8, 3, 4],
    }
}

/// A group as the writer commits it: beacons and witnesses mixed, with one witness and one
/// beacon sent twice (received later the second time).
fn first_group() -> Vec<NewReport> {
    let mut group = Vec::new();
    for n in 0..12u8 {
        let kind = if n % 4 == 0 {
            ReportKind::Beacon
        } else {
            ReportKind::Witness
        };
        group.push(report(kind, n, START_MS + u64::from(n) * 10));
    }
    group.push(report(ReportKind::Witness, 5, START_MS + 500));
    group.push(report(ReportKind::Beacon, 8, START_MS + 510));
    group
}

/// A later group: three reports of the first again, and new ones.
fn second_group() -> Vec<NewReport> {
    let later = START_MS + 60_000;
    vec![
        report(ReportKind::Witness, 1, later),
        report(ReportKind::Beacon, 40, later + 1),
        report(ReportKind::Beacon, 0, later + 2),
        report(ReportKind::Witness, 41, later + 3),
        report(ReportKind::Witness, 11, later + 4),
        report(ReportKind::Witness, 41, later + 5),
    ]
}

/// Every stored row of both report tables, in id order.
async fn stored_rows(store: &Store) -> Vec<(String, Vec<u8>, Vec<u8>, Vec<u8>, i64, Vec<u8>)> {
    let mut out = Vec::new();
    for table in ["beacon_reports", "witness_reports"] {
        let sql =
            format!("SELECT id, hotspot_key, data, received_ms, message FROM {table} ORDER BY id");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(store.db().pool())
            .await
            .expect("rows")
        {
            out.push((
                table.to_string(),
                row.get("id"),
                row.get("hotspot_key"),
                row.get("data"),
                row.get("received_ms"),
                row.get("message"),
            ));
        }
    }
    out
}

fn stored(duplicate: bool, received_ms: u64) -> Stored {
    Stored {
        duplicate,
        received_ms,
    }
}

/// Stores `group` by both paths (`fast` the writer's, `slow` one statement per report) and
/// checks they answer the same; returns the answers.
async fn same_answers(fast: &Store, slow: &Store, group: &[NewReport], label: &str) -> Vec<Stored> {
    let answers = fast.insert_reports(group).await.expect("insert");
    let reference = slow.insert_reports_one_by_one(group).await.expect("insert");
    assert_eq!(answers, reference, "{label}");
    answers
}

/// For each database (SQLite, PostgreSQL), a store for the writer's path and one, on a
/// database of its own, for the reference path, with the database's name; the databases are
/// returned too, to outlive the stores.
async fn store_pairs() -> (
    Vec<db::test_support::TestDb>,
    Vec<(Store, Store, &'static str)>,
) {
    let batched = db::test_support::both().await.expect("databases");
    let reference = db::test_support::both().await.expect("databases");
    let pairs = batched
        .iter()
        .zip(&reference)
        .map(|(b, r)| (Store::new(b.db.clone()), Store::new(r.db.clone()), b.name))
        .collect();
    (batched.into_iter().chain(reference).collect(), pairs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writers_path_stores_and_answers_as_one_statement_per_report() {
    let (_databases, pairs) = store_pairs().await;
    for (fast, slow, name) in pairs {
        let group = first_group();
        let answers = same_answers(&fast, &slow, &group, &format!("{name}: first group")).await;
        // Spelled out, so that both paths being wrong the same way fails too.
        assert_eq!(answers.len(), 14, "{name}");
        assert!(
            answers[..12]
                .iter()
                .zip(&group)
                .all(|(a, r)| *a == stored(false, r.received_ms)),
            "{name}: the first twelve are new: {answers:?}"
        );
        assert_eq!(
            answers[12],
            stored(true, START_MS + 50),
            "{name}: witness 5 again"
        );
        assert_eq!(
            answers[13],
            stored(true, START_MS + 80),
            "{name}: beacon 8 again"
        );

        let group = second_group();
        let answers = same_answers(&fast, &slow, &group, &format!("{name}: second group")).await;
        let later = START_MS + 60_000;
        assert_eq!(
            answers,
            vec![
                stored(true, START_MS + 10),
                stored(false, later + 1),
                stored(true, START_MS),
                stored(false, later + 3),
                stored(true, START_MS + 110),
                stored(true, later + 3),
            ],
            "{name}"
        );

        // Later calls: all new reports of both kinds, one report twice, one stored before among
        // new ones, one stored before alone.
        let later = START_MS + 120_000;
        for (call, group) in [
            vec![
                report(ReportKind::Witness, 50, later),
                report(ReportKind::Beacon, 51, later + 1),
            ],
            vec![
                report(ReportKind::Witness, 52, later + 2),
                report(ReportKind::Witness, 52, later + 3),
            ],
            vec![
                report(ReportKind::Beacon, 53, later + 4),
                report(ReportKind::Witness, 50, later + 5),
            ],
        ]
        .into_iter()
        .enumerate()
        {
            let label = format!("{name}: call {call} after the second group");
            same_answers(&fast, &slow, &group, &label).await;
        }
        let answers = fast
            .insert_reports(&[report(ReportKind::Witness, 52, later + 9)])
            .await
            .expect("insert");
        assert_eq!(answers, vec![stored(true, later + 2)], "{name}");

        let rows = stored_rows(&fast).await;
        assert_eq!(
            rows.len(),
            18,
            "{name}: 12 + 2 + 4 new reports stored once each"
        );
        assert_eq!(rows, stored_rows(&slow).await, "{name}: the same rows");
    }
}

/// `n` new witnesses, numbered from `first`, received from `at_ms` on.
fn new_witnesses(first: u8, n: u8, at_ms: u64) -> Vec<NewReport> {
    (first..first + n)
        .map(|k| report(ReportKind::Witness, k, at_ms + u64::from(k)))
        .collect()
}

/// On PostgreSQL, a group of new reports goes in by the plain insert; a group holding a report
/// twice, or one stored before, is stored checking each report, and so are the groups after
/// it until `CHECKED_AFTER_DUPLICATE` (64) commits have passed. Every answer and row is the
/// reference path's either way. SQLite always checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_groups_take_the_plain_insert_and_a_stored_report_the_checking_path() {
    use oracle::store::ReportCommits;
    let (_databases, pairs) = store_pairs().await;
    for (fast, slow, name) in pairs {
        let postgres = fast.db().postgres().is_some();
        let commits = |plain, redone, checked| {
            if postgres {
                ReportCommits {
                    plain,
                    redone,
                    checked,
                }
            } else {
                ReportCommits {
                    plain: 0,
                    redone: 0,
                    checked: plain + redone + checked,
                }
            }
        };

        let group = vec![
            report(ReportKind::Beacon, 1, START_MS),
            report(ReportKind::Witness, 2, START_MS + 1),
            report(ReportKind::Witness, 3, START_MS + 2),
        ];
        let answers = same_answers(&fast, &slow, &group, name).await;
        assert!(answers.iter().all(|a| !a.duplicate), "{name}: {answers:?}");
        assert_eq!(fast.report_commits(), commits(1, 0, 0), "{name}: all new");

        let twice = vec![
            report(ReportKind::Witness, 4, START_MS + 3),
            report(ReportKind::Witness, 4, START_MS + 4),
        ];
        let answers = same_answers(&fast, &slow, &twice, name).await;
        assert_eq!(
            answers,
            vec![stored(false, START_MS + 3), stored(true, START_MS + 3)],
            "{name}"
        );
        assert_eq!(fast.report_commits(), commits(1, 0, 1), "{name}: twice");

        let mut resent = new_witnesses(10, 3, START_MS + 100);
        resent.insert(1, report(ReportKind::Beacon, 1, START_MS + 200));
        let answers = same_answers(&fast, &slow, &resent, name).await;
        assert_eq!(answers[1], stored(true, START_MS), "{name}: beacon 1 again");
        assert_eq!(answers.iter().filter(|a| a.duplicate).count(), 1, "{name}");
        assert_eq!(fast.report_commits(), commits(1, 1, 1), "{name}: resent");

        // The next 64 groups are checked, even though all of theirs are new; then plain again.
        for n in 0..64u8 {
            let group = new_witnesses(20 + 3 * n, 3, START_MS + 1_000 + 10 * u64::from(n));
            let answers = same_answers(&fast, &slow, &group, name).await;
            assert!(answers.iter().all(|a| !a.duplicate), "{name}: {answers:?}");
        }
        assert_eq!(fast.report_commits(), commits(1, 1, 65), "{name}: after");
        let group = new_witnesses(240, 3, START_MS + 5_000);
        same_answers(&fast, &slow, &group, name).await;
        assert_eq!(
            fast.report_commits(),
            commits(2, 1, 65),
            "{name}: plain again"
        );

        // A clone shares the counts and the path.
        assert_eq!(fast.clone().report_commits(), fast.report_commits());
        let rows = stored_rows(&fast).await;
        assert_eq!(
            rows.len(),
            3 + 1 + 3 + 64 * 3 + 3,
            "{name}: each new report once"
        );
        assert_eq!(rows, stored_rows(&slow).await, "{name}: the same rows");
    }
}

/// Closes every connection to `store`'s PostgreSQL database but the one asking; how many.
async fn close_other_connections(pool: &sqlx::PgPool) -> i64 {
    sqlx::query(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(pool)
    .await
    .expect("terminate")
    .get(0)
}

/// On PostgreSQL the writer keeps its connection from one group to the next. When the server
/// closes it, nothing is lost or stored twice: after a second idle, the connection is checked
/// before it is used and replaced; a group sent at once may fail (its client retries it, as
/// after any failed commit), and the group after it goes over a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writers_kept_connection_is_replaced_when_the_server_closes_it() {
    let (_databases, pairs) = store_pairs().await;
    let (store, _, name) = pairs
        .into_iter()
        .find(|(store, _, _)| store.db().postgres().is_some())
        .expect("a PostgreSQL store");
    let pool = store.db().postgres().expect("postgres").clone();
    let all_new = |answers: &[Stored], group: &[NewReport]| {
        let expected: Vec<Stored> = group.iter().map(|r| stored(false, r.received_ms)).collect();
        assert_eq!(answers, expected, "{name}");
    };

    let first = new_witnesses(1, 3, START_MS);
    all_new(&store.insert_reports(&first).await.expect("first"), &first);
    assert!(close_other_connections(&pool).await >= 1, "the writer's");

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let second = new_witnesses(10, 3, START_MS + 100);
    let answers = store.insert_reports(&second).await;
    all_new(&answers.expect("checked after a second idle"), &second);

    assert!(close_other_connections(&pool).await >= 1, "the writer's");
    let third = new_witnesses(20, 3, START_MS + 200);
    let answers = match store.insert_reports(&third).await {
        Ok(answers) => answers,
        Err(_) => store
            .insert_reports(&third)
            .await
            .expect("a new connection"),
    };
    all_new(&answers, &third);

    let rows = stored_rows(&store).await;
    assert_eq!(rows.len(), 9, "{name}: each report once");

    // Closing the store closes the kept connection too: the pool's close, which waits for
    // every connection it gave out, does not wait for it forever.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(60), store.close()).await;
    assert!(closed.is_ok(), "{name}: the store closed");
    assert!(pool.is_closed(), "{name}");
}
