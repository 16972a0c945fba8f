//! The append-only file behind a durable [`super::Outbox`]: `outbox.log` in the data directory.
//!
//! Records are `tag (1) | payload length (u32 LE) | CRC-32 of payload (u32 LE) | payload`. A
//! *report* record's payload is `seq (u64 LE) | enqueued_ms (u64 LE) | encoded Request`; a *done*
//! record's payload is `seq (u64 LE)` and retires every report up to and including `seq` (acked
//! by the oracle, rejected, or dropped by the bounds). Every append is followed by `fdatasync`,
//! so a report is on disk before it is sent and stays there until its done record is. Replay at
//! open stops at the first torn or corrupt record (a crash mid-append) and truncates it away.
//! The file is emptied whenever the queue is, and rewritten when retired records dominate it.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use tracing::warn;

/// Name of the queue file in the data directory.
pub const FILE_NAME: &str = "outbox.log";
/// Largest encoded report accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const TAG_REPORT: u8 = 0xA1;
const TAG_DONE: u8 = 0xA2;
const HEADER_LEN: u64 = 9;
const REPORT_META_LEN: u64 = 16;
/// Retired bytes tolerated before a rewrite is considered.
const COMPACT_MIN_DEAD_BYTES: u64 = 1 << 20;

/// A report in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Sequence number (increasing).
    pub seq: u64,
    /// When it was queued (agent clock, ms since the epoch).
    pub enqueued_ms: u64,
    /// Offset of the encoded request in the file.
    pub offset: u64,
    /// Length of the encoded request.
    pub len: u32,
}

impl Stored {
    fn record_len(&self) -> u64 {
        HEADER_LEN + REPORT_META_LEN + u64::from(self.len)
    }
}

/// The open queue file.
#[derive(Debug)]
pub struct Log {
    file: File,
    path: PathBuf,
    end: u64,
    dead: u64,
    /// Whether each append is synced (always, except for bulk loading).
    sync: bool,
}

/// What [`Log::open`] found.
pub struct Opened {
    /// The file.
    pub log: Log,
    /// Reports not yet retired, oldest first.
    pub live: VecDeque<Stored>,
    /// The next sequence number to use.
    pub next_seq: u64,
}

impl Log {
    /// Opens (or creates) the queue file in `dir` and replays it.
    pub fn open(dir: &Path) -> io::Result<Opened> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut log = Self {
            file,
            path,
            end: 0,
            dead: 0,
            sync: true,
        };
        let (live, next_seq) = log.replay()?;
        Ok(Opened {
            log,
            live,
            next_seq,
        })
    }

    fn replay(&mut self) -> io::Result<(VecDeque<Stored>, u64)> {
        let size = self.file.metadata()?.len();
        let mut reader = BufReader::with_capacity(64 * 1024, &self.file);
        let mut live = VecDeque::new();
        let (mut offset, mut next_seq) = (0u64, 0u64);
        let mut payload = Vec::new();
        while let Some(tag) = read_record(&mut reader, &mut payload)? {
            let seq = u64_at(&payload, 0);
            next_seq = next_seq.max(seq.saturating_add(1));
            if tag == TAG_REPORT {
                let len = (payload.len() as u64 - REPORT_META_LEN) as u32;
                let body = offset + HEADER_LEN + REPORT_META_LEN;
                let enqueued_ms = u64_at(&payload, 8);
                live.push_back(Stored {
                    seq,
                    enqueued_ms,
                    offset: body,
                    len,
                });
            } else {
                self.dead += HEADER_LEN + 8;
                while let Some(front) = live.front().filter(|s| s.seq <= seq) {
                    self.dead += front.record_len();
                    live.pop_front();
                }
            }
            offset += HEADER_LEN + payload.len() as u64;
        }
        if offset < size {
            warn!(path = %self.path.display(), kept_bytes = offset, dropped_bytes = size - offset, "queue file ends in a torn or corrupt record; truncating it");
            self.file.set_len(offset)?;
            self.file.sync_data()?;
        }
        self.end = offset;
        Ok((live, next_seq))
    }

    /// Appends a report and syncs it; returns where its body is.
    pub fn append_report(&mut self, seq: u64, enqueued_ms: u64, body: &[u8]) -> io::Result<Stored> {
        let len = u32::try_from(body.len())
            .ok()
            .filter(|l| *l as usize <= MAX_BODY_BYTES)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "report too large"))?;
        let mut payload = Vec::with_capacity(REPORT_META_LEN as usize + body.len());
        payload.extend_from_slice(&seq.to_le_bytes());
        payload.extend_from_slice(&enqueued_ms.to_le_bytes());
        payload.extend_from_slice(body);
        let start = self.append(TAG_REPORT, &payload)?;
        Ok(Stored {
            seq,
            enqueued_ms,
            offset: start + HEADER_LEN + REPORT_META_LEN,
            len,
        })
    }

    /// Retires `retired` (every report up to and including its last seq) and syncs.
    pub fn append_done(&mut self, retired: &[Stored]) -> io::Result<()> {
        let Some(last) = retired.last() else {
            return Ok(());
        };
        self.append(TAG_DONE, &last.seq.to_le_bytes())?;
        self.dead += HEADER_LEN + 8 + retired.iter().map(Stored::record_len).sum::<u64>();
        Ok(())
    }

    fn append(&mut self, tag: u8, payload: &[u8]) -> io::Result<u64> {
        let mut record = Vec::with_capacity(HEADER_LEN as usize + payload.len());
        record.push(tag);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        record.extend_from_slice(payload);
        let start = self.end;
        self.file.write_all_at(&record, start)?;
        if self.sync {
            self.file.sync_data()?;
        }
        self.end += record.len() as u64;
        Ok(start)
    }

    /// Turns per-append syncing on (syncing now) or off (bulk loading by tools only).
    pub fn set_sync(&mut self, sync: bool) -> io::Result<()> {
        self.sync = sync;
        if sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Reads the encoded request of `stored`.
    pub fn read(&self, stored: &Stored) -> io::Result<Vec<u8>> {
        let mut body = vec![0; stored.len as usize];
        self.file.read_exact_at(&mut body, stored.offset)?;
        Ok(body)
    }

    /// Empties the file (the queue is empty).
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_data()?;
        self.end = 0;
        self.dead = 0;
        Ok(())
    }

    /// Whether retired records take more room than live ones (and at least 1 MiB).
    pub fn wants_compaction(&self) -> bool {
        self.dead >= COMPACT_MIN_DEAD_BYTES && self.dead * 2 > self.end
    }

    /// Rewrites the file with only `live` (updating their offsets), atomically by rename.
    pub fn compact(&mut self, live: &mut [&mut Stored]) -> io::Result<()> {
        let tmp = self.path.with_extension("log.tmp");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let mut fresh = Self {
            file,
            path: self.path.clone(),
            end: 0,
            dead: 0,
            sync: self.sync,
        };
        let mut moved = Vec::with_capacity(live.len());
        for stored in live.iter() {
            let body = self.read(stored)?;
            moved.push(fresh.append_report(stored.seq, stored.enqueued_ms, &body)?);
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        for (stored, new) in live.iter_mut().zip(moved) {
            **stored = new;
        }
        *self = fresh;
        Ok(())
    }
}

/// Reads the next valid record into `payload`: `Ok(None)` at the end of the file or at the
/// first torn or corrupt record.
fn read_record(reader: &mut impl Read, payload: &mut Vec<u8>) -> io::Result<Option<u8>> {
    let mut header = [0u8; HEADER_LEN as usize];
    if !read_full(reader, &mut header)? {
        return Ok(None);
    }
    let tag = header[0];
    let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let crc = u32::from_le_bytes([header[5], header[6], header[7], header[8]]);
    let valid_len = match tag {
        TAG_REPORT => {
            (REPORT_META_LEN as usize..=REPORT_META_LEN as usize + MAX_BODY_BYTES).contains(&len)
        }
        TAG_DONE => len == 8,
        _ => false,
    };
    if !valid_len {
        return Ok(None);
    }
    payload.resize(len, 0);
    if !read_full(reader, payload)? || crc32fast::hash(payload) != crc {
        return Ok(None);
    }
    Ok(Some(tag))
}

/// Fills `buf`; `Ok(false)` when the file ends first.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0u8; 8];
    if let Some(slice) = bytes.get(at..at + 8) {
        le.copy_from_slice(slice);
    }
    u64::from_le_bytes(le)
}
