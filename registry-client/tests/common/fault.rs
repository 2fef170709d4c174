//! A loopback TCP proxy that cuts one connection once a byte count is reached, to test resumed
//! uploads and downloads against the real registry. (The shared harness has a richer one.)

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Which direction's bytes are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to registry (uploads).
    Up,
    /// Registry to client (downloads).
    Down,
}

/// The proxy; it stops accepting when dropped (the listener thread ends with the process).
pub struct FaultProxy {
    /// `127.0.0.1:<port>` of the proxy.
    pub host: String,
    fired: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Proxies to `upstream`; once `after` bytes went `direction` in total, the connection
    /// carrying the next byte is cut (once).
    pub fn start(upstream: &str, direction: Direction, after: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let host = listener.local_addr().expect("addr").to_string();
        let fired = Arc::new(AtomicBool::new(false));
        let counted = Arc::new(AtomicU64::new(0));
        let upstream = upstream.to_owned();
        let f = fired.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let pipe = |from: &TcpStream, to: &TcpStream, counted: Option<Arc<AtomicU64>>| {
                    let (mut from, mut to) = (
                        from.try_clone().expect("clone"),
                        to.try_clone().expect("clone"),
                    );
                    let (fired, c2, s2) = (
                        f.clone(),
                        client.try_clone().expect("c"),
                        server.try_clone().expect("s"),
                    );
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if let Some(c) = &counted {
                                let total = c.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                                if total > after && !fired.swap(true, Ordering::SeqCst) {
                                    let _ = c2.shutdown(Shutdown::Both);
                                    let _ = s2.shutdown(Shutdown::Both);
                                    break;
                                }
                            }
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Write);
                    });
                };
                let up = (direction == Direction::Up).then(|| counted.clone());
                let down = (direction == Direction::Down).then(|| counted.clone());
                pipe(&client, &server, up);
                pipe(&server, &client, down);
            }
        });
        Self { host, fired }
    }

    /// Whether the cut happened.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}
