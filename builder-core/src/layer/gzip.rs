//! [`ParallelGzip`]: gzip compression on several threads whose output bytes do not depend on
//! the thread count (pigz's scheme).
//!
//! The input is cut into fixed [`BLOCK_SIZE`] blocks. Each block is deflated by a fresh raw
//! compressor primed with the previous [`DICT_SIZE`] bytes of input as its dictionary, and ends
//! with a sync flush (the last block with finish), so the blocks concatenate into one deflate
//! stream. A block's bytes are a function of (level, dictionary, block, is-last) alone, never of
//! which thread ran it or when, so 1, 2 or 64 threads write the same member. The CRC-32 of each
//! block is computed beside it and combined in order.
//!
//! The header is Go's `compress/gzip` header (which BuildKit and Docker write): no name, mtime 0,
//! XFL 0, OS 255 ("unknown"); the same bytes on every machine.
//!
//! Memory is bounded: at most `2 × threads` blocks are in flight (each ~128 KiB in and out).
//!
//! A block that looks incompressible (near-uniform byte histogram and almost no repeated 8-byte
//! sequences within deflate's reach, both judged with integer arithmetic on the block and its
//! dictionary alone) is written as stored deflate blocks without running the compressor:
//! already-compressed files in layers then cost a copy instead of a futile deflate pass, and the
//! choice is still a function of the content, so the bytes stay the same on any thread count.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Uncompressed bytes per block (pigz's default).
pub const BLOCK_SIZE: usize = 128 * 1024;
/// Bytes of preceding input each block uses as its dictionary (deflate's window).
pub const DICT_SIZE: usize = 32 * 1024;

/// Go's gzip header: magic, deflate, no flags, mtime 0, XFL 0, OS 255.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A gzip writer compressing blocks on a pool of threads, output independent of the pool size.
pub(crate) struct ParallelGzip<W: Write> {
    out: W,
    level: u32,
    /// The block being filled.
    block: Vec<u8>,
    /// The last [`DICT_SIZE`] bytes before `block`.
    dict: Vec<u8>,
    crc: crc32fast::Hasher,
    /// Input bytes so far (for the trailer's ISIZE).
    total_in: u64,
    pool: Option<Pool>,
    /// Blocks submitted and not yet written, in order.
    pending: VecDeque<Receiver<io::Result<Deflated>>>,
}

/// A compressed block and the CRC-32 of its input.
struct Deflated {
    bytes: Vec<u8>,
    crc: crc32fast::Hasher,
}

/// Work for one block.
struct Job {
    level: u32,
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
    reply: SyncSender<io::Result<Deflated>>,
}

impl<W: Write> ParallelGzip<W> {
    /// A writer at `level` (0–9) on `threads` threads (1 compresses on the caller's thread);
    /// writes the gzip header.
    pub(crate) fn new(mut out: W, level: u32, threads: usize) -> io::Result<Self> {
        out.write_all(&HEADER)?;
        Ok(ParallelGzip {
            out,
            level,
            block: Vec::with_capacity(BLOCK_SIZE),
            dict: Vec::new(),
            crc: crc32fast::Hasher::new(),
            total_in: 0,
            pool: (threads > 1).then(|| Pool::new(threads)),
            pending: VecDeque::new(),
        })
    }

    /// Compresses the last block, writes the trailer and returns the output.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let total = self.total_in;
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        // ISIZE: the input length modulo 2^32.
        self.out
            .write_all(&((total & 0xffff_ffff) as u32).to_le_bytes())?;
        self.out.flush()?;
        if let Some(pool) = self.pool.take() {
            pool.shut_down();
        }
        Ok(self.out)
    }

    /// Hands the current block to the pool (or compresses it here) and starts the next one.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK_SIZE));
        let next_dict = data[data.len().saturating_sub(DICT_SIZE)..].to_vec();
        let dict = std::mem::replace(&mut self.dict, next_dict);
        let Some(pool) = &self.pool else {
            let block = deflate_block(self.level, &dict, &data, last)?;
            return self.write_block(block);
        };
        let (reply, receiver) = sync_channel(1);
        pool.send(Job {
            level: self.level,
            dict,
            data,
            last,
            reply,
        })?;
        self.pending.push_back(receiver);
        let max_in_flight = 2 * pool.threads;
        while self.pending.len() >= max_in_flight {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest pending block and writes it.
    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(receiver) = self.pending.pop_front() else {
            return Ok(());
        };
        let block = receiver.recv().map_err(|_| worker_gone())??;
        self.write_block(block)
    }

    fn write_block(&mut self, block: Deflated) -> io::Result<()> {
        self.crc.combine(&block.crc);
        self.out.write_all(&block.bytes)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK_SIZE - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.total_in += n as u64;
        if self.block.len() == BLOCK_SIZE {
            self.submit(false)?;
        }
        Ok(n)
    }

    /// Flushes the output only: a block boundary depends on the input alone, never on flushes.
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Deflates one block: raw deflate, `dict` as preset dictionary, sync flush (finish if `last`).
fn deflate_block(level: u32, dict: &[u8], data: &[u8], last: bool) -> io::Result<Deflated> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    if level > 0 && is_incompressible(dict, data) {
        return Ok(Deflated {
            bytes: stored_blocks(data, last),
            crc,
        });
    }
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut bytes = Vec::with_capacity(data.len() + data.len() / 16 + 64);
    loop {
        let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
        let status = c
            .compress_vec(&data[consumed.min(data.len())..], &mut bytes, flush)
            .map_err(io::Error::other)?;
        let all_in = usize::try_from(c.total_in()).ok() == Some(data.len());
        let done = match status {
            Status::StreamEnd => true,
            _ => !last && all_in && bytes.len() < bytes.capacity(),
        };
        if done {
            break;
        }
        bytes.reserve(bytes.capacity().max(4096));
    }
    Ok(Deflated { bytes, crc })
}

/// `data` as stored deflate blocks of at most 65535 bytes (byte-aligned: the previous block
/// ended with a sync flush or another stored block); the final one has BFINAL set if `last`.
fn stored_blocks(data: &[u8], last: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 65535 + 1));
    let pieces = data.chunks(65535);
    let count = pieces.len();
    for (i, piece) in pieces.enumerate() {
        let len = u16::try_from(piece.len()).unwrap_or(u16::MAX);
        out.push(u8::from(last && i + 1 == count));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out
}

/// Whether deflate would gain nothing on `data`: its byte histogram is close to uniform
/// (chi-square against uniform below 1024, where random data scores about 255) and fewer than
/// 1/1024 of its positions start an 8-byte sequence seen shortly before (in `dict` or `data`).
fn is_incompressible(dict: &[u8], data: &[u8]) -> bool {
    const MIN_LEN: usize = 16 * 1024;
    if data.len() < MIN_LEN {
        return false;
    }
    let mut counts = [0u64; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let n = data.len() as u64;
    let sum_squares: u64 = counts.iter().map(|c| c * c).sum();
    // chi2 = 256 * sum(c^2) / n - n < 1024
    if 256 * sum_squares >= n * (n + 1024) {
        return false;
    }
    count_repeats(dict, data) * 1024 < n
}

/// Positions of `data` whose next 8 bytes equal those at the last position with the same hash,
/// over `dict` followed by `data` (a sampled estimate of LZ77 matches).
fn count_repeats(dict: &[u8], data: &[u8]) -> u64 {
    const SLOTS: usize = 1 << 16;
    let mut table = vec![u64::MAX; SLOTS];
    let word = |bytes: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let slot = |w: u64| (w.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize;
    for i in 0..dict.len().saturating_sub(7) {
        let w = word(dict, i);
        table[slot(w)] = w;
    }
    let mut repeats = 0;
    for i in 0..data.len().saturating_sub(7) {
        let w = word(data, i);
        let s = slot(w);
        repeats += u64::from(table[s] == w);
        table[s] = w;
    }
    repeats
}

/// Worker threads taking [`Job`]s from one bounded queue.
struct Pool {
    threads: usize,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize) -> Self {
        let (jobs, queue) = sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || run_worker(&queue))
            })
            .collect();
        Pool {
            threads,
            jobs: Some(jobs),
            workers,
        }
    }

    fn send(&self, job: Job) -> io::Result<()> {
        match &self.jobs {
            Some(jobs) => jobs.send(job).map_err(|_| worker_gone()),
            None => Err(worker_gone()),
        }
    }

    /// Closes the queue and waits for the workers.
    fn shut_down(mut self) {
        self.close();
    }

    fn close(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            // A worker that panicked already reported through its job's dropped reply.
            let _ = worker.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.close();
    }
}

fn run_worker(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let result = deflate_block(job.level, &job.dict, &job.data, job.last);
        // The writer may have given up (an error elsewhere); nothing to do then.
        let _ = job.reply.send(result);
    }
}

fn worker_gone() -> io::Error {
    io::Error::other("a gzip compression thread stopped")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip(data: &[u8], threads: usize, chunk: usize) -> Vec<u8> {
        let mut w = ParallelGzip::new(Vec::new(), 6, threads).unwrap_or_else(|e| panic!("{e}"));
        for piece in data.chunks(chunk.max(1)) {
            w.write_all(piece).unwrap_or_else(|e| panic!("{e}"));
        }
        w.finish().unwrap_or_else(|e| panic!("{e}"))
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    #[test]
    fn same_bytes_for_any_thread_count_and_chunking() {
        let mut data = Vec::new();
        let mut x: u32 = 1;
        for i in 0..(3 * BLOCK_SIZE + 777) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.push(if i % 3 == 0 {
                (x >> 24) as u8
            } else {
                b'a' + (i % 7) as u8
            });
        }
        let one = gzip(&data, 1, 4096);
        assert_eq!(gunzip(&one), data);
        for (threads, chunk) in [(2, 1000), (3, BLOCK_SIZE), (4, 1 << 20), (1, 1)] {
            assert_eq!(gzip(&data, threads, chunk), one, "{threads} threads");
        }
    }

    #[test]
    fn incompressible_blocks_are_stored_and_decode() {
        let mut x: u64 = 88172645463325252;
        let mut random = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        };
        let noise: Vec<u8> = (0..BLOCK_SIZE).map(|_| random()).collect();
        assert!(is_incompressible(&[], &noise));
        assert!(!is_incompressible(&[], &vec![b'a'; BLOCK_SIZE]));
        // Random but repeated within deflate's window: deflate wins, so not stored.
        let twice: Vec<u8> = noise[..BLOCK_SIZE / 2].repeat(2);
        assert!(!is_incompressible(&[], &twice));
        assert!(!is_incompressible(
            &noise[BLOCK_SIZE - DICT_SIZE..],
            &noise[BLOCK_SIZE - DICT_SIZE..]
        ));
        // Text, noise, text, noise ending in a partial stored final block.
        let mut data = b"some text ".repeat(20_000);
        data.extend_from_slice(&noise);
        data.extend_from_slice(&b"more text ".repeat(20_000));
        data.extend_from_slice(&noise[..70_000]);
        let z = gzip(&data, 1, 65_536);
        assert_eq!(gunzip(&z), data);
        assert_eq!(z, gzip(&data, 3, 1000));
        assert!(z.len() < data.len() - 300_000);
    }

    #[test]
    fn empty_and_exact_blocks() {
        for len in [0, 1, BLOCK_SIZE, 2 * BLOCK_SIZE] {
            let data = vec![7u8; len];
            let z = gzip(&data, 2, 10_000);
            assert_eq!(gunzip(&z), data, "{len}");
            assert_eq!(z, gzip(&data, 1, 10_000));
        }
    }
}
