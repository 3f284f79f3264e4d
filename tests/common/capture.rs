//! A loopback HTTP server that records every connection and what was sent
//! on it, then answers with a fixed response and closes.
//!
//! As a planted address it is the attacker's: any connection at all is a
//! failure, whatever was sent. As the CI job's own `VAULT_ADDR` it stands in
//! for the trusted Vault, which may receive the job's token but nothing the
//! repository chose.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a connection may send before the server stops reading.
const MAX_REQUEST: usize = 1 << 20;

pub struct Capture {
    address: SocketAddr,
    log: Arc<Mutex<Vec<Vec<u8>>>>,
    /// How many times the server found no connection waiting.
    idle: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    /// A server answering `403 permission denied`, as Vault does to a
    /// token without access.
    pub fn start() -> Capture {
        Capture::replying(r#"{"errors":["permission denied"]}"#)
    }

    /// A server answering `403` with `body` (JSON or not).
    pub fn replying(body: &str) -> Capture {
        Capture::serving(Reply::Whole(format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )))
    }

    /// A server answering `200` with a chunked JSON body that never ends,
    /// until the client goes away.
    pub fn endless() -> Capture {
        Capture::serving(Reply::Endless)
    }

    fn serving(reply: Reply) -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let idle = Arc::new(AtomicU64::new(0));
        let thread = {
            let (log, idle, stop) = (Arc::clone(&log), Arc::clone(&idle), Arc::clone(&stop));
            std::thread::spawn(move || serve(&listener, &reply, &log, &idle, &stop))
        };
        Capture {
            address,
            log,
            idle,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many connections were made, whether or not anything was sent.
    pub fn connections(&self) -> usize {
        self.settle();
        self.log.lock().unwrap().len()
    }

    /// Everything received, one entry per connection.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.settle();
        self.log.lock().unwrap().clone()
    }

    /// Waits until the server has found its queue empty since the call, so
    /// a connection made by a process that has ended is counted even when
    /// the process did not wait for an answer.
    fn settle(&self) {
        let seen = self.idle.load(Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.idle.load(Ordering::SeqCst) < seen + 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the server answers to every request.
enum Reply {
    Whole(String),
    Endless,
}

fn serve(
    listener: &TcpListener,
    reply: &Reply,
    log: &Mutex<Vec<Vec<u8>>>,
    idle: &AtomicU64,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                // Counted before anything is read: a connection is the leak.
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(Vec::new());
                    log.len() - 1
                };
                let received = answer(stream, reply, stop);
                log.lock().unwrap()[index] = received;
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                idle.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Reads one request (headers and a `Content-Length` body, or until the
/// client stops sending), then answers and closes.
fn answer(mut stream: TcpStream, reply: &Reply, stop: &AtomicBool) -> Vec<u8> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    while received.len() < MAX_REQUEST && !complete(&received) {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    match reply {
        Reply::Whole(response) => {
            let _ = stream.write_all(response.as_bytes());
        }
        Reply::Endless => {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
            let header = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n";
            let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
            let mut sent = stream.write_all(header.as_bytes());
            while sent.is_ok() && !stop.load(Ordering::SeqCst) {
                sent = stream.write_all(chunk.as_bytes());
            }
        }
    }
    let _ = stream.flush();
    received
}

/// Whether `received` holds a whole HTTP request.
fn complete(received: &[u8]) -> bool {
    let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let headers = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
    let length = headers
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    received.len() >= end + 4 + length
}
