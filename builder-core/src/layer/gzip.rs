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
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    Ok(Deflated { bytes, crc })
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
    fn empty_and_exact_blocks() {
        for len in [0, 1, BLOCK_SIZE, 2 * BLOCK_SIZE] {
            let data = vec![7u8; len];
            let z = gzip(&data, 2, 10_000);
            assert_eq!(gunzip(&z), data, "{len}");
            assert_eq!(z, gzip(&data, 1, 10_000));
        }
    }
}
