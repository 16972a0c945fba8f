use super::*;
use schemas::proto::WitnessReport;

fn witness(tmst: u32) -> Request {
    Request {
        msg: Some(request::Msg::Witness(WitnessReport {
            tmst,
            data: vec![7; 51],
            ..Default::default()
        })),
    }
}

fn now() -> u64 {
    1_000
}

async fn front_tmst(outbox: &Outbox) -> u32 {
    match outbox.front(now).await.1.msg {
        Some(request::Msg::Witness(w)) => w.tmst,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn fifo_until_removed() {
    let outbox = Outbox::new(10);
    outbox.push(&witness(1), 0);
    outbox.push(&witness(2), 0);
    let (id, first) = outbox.front(now).await;
    assert_eq!(first, witness(1));
    assert_eq!(outbox.front(now).await.1, witness(1), "stays until removed");
    outbox.remove(id);
    assert_eq!(outbox.front(now).await.1, witness(2));
    assert_eq!(outbox.len(), 1);
}

#[tokio::test]
async fn full_outbox_drops_the_oldest() {
    let outbox = Outbox::new(2);
    assert_eq!(outbox.push(&witness(1), 0).dropped, 0);
    assert_eq!(outbox.push(&witness(2), 0).dropped, 0);
    assert_eq!(outbox.push(&witness(3), 0).dropped, 1);
    assert_eq!(front_tmst(&outbox).await, 2);
}

#[tokio::test]
async fn front_waits_for_a_push() {
    let outbox = std::sync::Arc::new(Outbox::new(4));
    let waiter = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.front(now).await.1 }
    });
    tokio::task::yield_now().await;
    outbox.push(&witness(7), 0);
    assert_eq!(waiter.await.expect("join"), witness(7));
}

#[tokio::test]
async fn survives_a_restart_in_order_and_forgets_what_was_acked() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let outbox = Outbox::open(dir.path(), QueueLimits::default()).expect("open");
        for tmst in 1..=5 {
            assert!(outbox.push(&witness(tmst), 0).durable);
        }
        let (id, _) = outbox.front(now).await;
        outbox.remove(id); // 1 acked
    }
    let outbox = Outbox::open(dir.path(), QueueLimits::default()).expect("reopen");
    assert_eq!(outbox.len(), 4);
    let mut seen = Vec::new();
    while !outbox.is_empty() {
        let (id, _) = outbox.front(now).await;
        seen.push(front_tmst(&outbox).await);
        outbox.remove(id);
    }
    assert_eq!(seen, vec![2, 3, 4, 5]);
    let file = dir.path().join(log::FILE_NAME);
    assert_eq!(std::fs::metadata(&file).expect("file").len(), 0, "emptied");
    outbox.push(&witness(6), 0);
    drop(outbox);
    let outbox = Outbox::open(dir.path(), QueueLimits::default()).expect("reopen");
    assert_eq!(
        front_tmst(&outbox).await,
        6,
        "new reports after a clear persist"
    );
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_the_rest_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let outbox = Outbox::open(dir.path(), QueueLimits::default()).expect("open");
        outbox.push(&witness(1), 0);
        outbox.push(&witness(2), 0);
    }
    let file = dir.path().join(log::FILE_NAME);
    let len = std::fs::metadata(&file).expect("file").len();
    let handle = std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("open");
    handle.set_len(len - 3).expect("tear"); // a crash in the middle of the second append
    let outbox = Outbox::open(dir.path(), QueueLimits::default()).expect("reopen");
    assert_eq!(outbox.len(), 1);
    assert_eq!(front_tmst(&outbox).await, 1);
    outbox.push(&witness(3), 0);
    drop(outbox);
    let outbox = Outbox::open(dir.path(), QueueLimits::default()).expect("reopen");
    assert_eq!(outbox.len(), 2, "appends after the cut are readable");
}

#[tokio::test]
async fn bounds_drop_the_oldest_and_too_old_reports_durably() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = QueueLimits {
        max_reports: 3,
        max_bytes: u64::MAX,
        max_age: Duration::from_secs(60),
    };
    {
        let outbox = Outbox::open(dir.path(), limits).expect("open");
        for tmst in 1..=4 {
            outbox.push(&witness(tmst), 0);
        }
        assert_eq!(outbox.len(), 3);
        outbox.push(&witness(5), 59_000);
    }
    let outbox = Outbox::open(dir.path(), limits).expect("reopen");
    assert_eq!(outbox.len(), 3, "the drop was recorded on disk");
    // At t = 61 s reports queued at 0 are too old; the one queued at 59 s is not.
    let (_, request) = outbox.front(|| 61_000).await;
    assert_eq!(request, witness(5));
    assert_eq!(outbox.take_expired(), 2);
    assert_eq!(outbox.take_expired(), 0);
}

#[tokio::test]
async fn compaction_keeps_live_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = QueueLimits {
        max_reports: 10,
        ..QueueLimits::default()
    };
    let outbox = Outbox::open(dir.path(), limits).expect("open");
    // Always full: every push drops one, so retired records pile up until a rewrite.
    let big = |tmst| Request {
        msg: Some(request::Msg::Witness(WitnessReport {
            tmst,
            data: vec![7; 40_000],
            ..Default::default()
        })),
    };
    for tmst in 0..100 {
        outbox.push(&big(tmst), 0);
    }
    let file = dir.path().join(log::FILE_NAME);
    let len = std::fs::metadata(&file).expect("file").len();
    assert!(
        len < 1_300_000,
        "compacted to about 10 live reports: {len} bytes"
    );
    drop(outbox);
    let outbox = Outbox::open(dir.path(), limits).expect("reopen");
    assert_eq!(outbox.len(), 10);
    assert_eq!(front_tmst(&outbox).await, 90);
}

fn tmsts(batch: &[(u64, Request)]) -> Vec<u32> {
    batch
        .iter()
        .map(|(_, r)| match &r.msg {
            Some(request::Msg::Witness(w)) => w.tmst,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn batches_are_bounded_by_count_and_bytes() {
    let outbox = Outbox::new(100);
    for tmst in 1..=10 {
        outbox.push(&witness(tmst), 0);
    }
    assert_eq!(
        tmsts(&outbox.front_batch(now, 4, 1 << 20).await),
        [1, 2, 3, 4]
    );
    let one = witness(1).encoded_len();
    assert_eq!(
        tmsts(&outbox.front_batch(now, 100, 3 * one + one / 2).await),
        [1, 2, 3]
    );
    assert_eq!(
        tmsts(&outbox.front_batch(now, 100, 1).await),
        [1],
        "the front alone"
    );
    assert_eq!(outbox.len(), 10, "nothing leaves before it is answered");
}

#[tokio::test]
async fn reports_answered_out_of_order_are_recorded_once_nothing_before_them_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reopen = || Outbox::open(dir.path(), QueueLimits::default()).expect("open");
    let seqs = {
        let outbox = reopen();
        for tmst in 1..=6 {
            outbox.push(&witness(tmst), 0);
        }
        let batch = outbox.front_batch(now, 10, 1 << 20).await;
        let seqs: Vec<u64> = batch.iter().map(|(seq, _)| *seq).collect();
        outbox.remove_answered(&[seqs[1], seqs[2], seqs[4]]);
        assert_eq!(
            tmsts(&outbox.front_batch(now, 10, 1 << 20).await),
            [1, 4, 6]
        );
        seqs
    };
    // 1 still waited, so a restart sends 2, 3 and 5 again (answered as duplicates).
    assert_eq!(
        tmsts(&reopen().front_batch(now, 10, 1 << 20).await),
        [1, 2, 3, 4, 5, 6]
    );
    {
        let outbox = reopen();
        outbox.remove_answered(&[seqs[1], seqs[2], seqs[4]]);
        outbox.remove_answered(&[seqs[0]]);
    }
    assert_eq!(
        tmsts(&reopen().front_batch(now, 10, 1 << 20).await),
        [4, 5, 6]
    );
    {
        let outbox = reopen();
        outbox.remove_answered(&[seqs[3], seqs[4]]);
    }
    assert_eq!(tmsts(&reopen().front_batch(now, 10, 1 << 20).await), [6]);
}
