//! Blob downloads redirected to another host (distribution's `redirect` storage middleware,
//! pointing at a static file server): followed, and the registry's credentials stay home.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::{Registry, client_builder, pseudo_random};
use registry_client::{Credential, Descriptor, Digest, media_type};

/// The requests a static server saw: path, and whether it carried Authorization.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

/// Serves files under `root`; records each request.
fn static_server(root: PathBuf) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut authorized = false;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                authorized |= h.to_ascii_lowercase().starts_with("authorization:");
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .split('?')
                .next()
                .unwrap_or("/")
                .to_owned();
            record.lock().unwrap().push((path.clone(), authorized));
            let mut out = stream;
            match std::fs::read(root.join(path.trim_start_matches('/'))) {
                Ok(body) => {
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = out.write_all(&body);
                }
                Err(_) => {
                    let _ = write!(
                        out,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    (base, seen)
}

#[tokio::test]
async fn redirected_blob_downloads_do_not_carry_the_registry_authorization() {
    let dir = tempfile::tempdir().unwrap();
    let (base, seen) = static_server(dir.path().join("storage"));
    let htpasswd = std::process::Command::new("htpasswd")
        .args(["-Bbn", "carol", "pw-carol"])
        .output()
        .unwrap();
    std::fs::write(dir.path().join("htpasswd"), htpasswd.stdout).unwrap();
    let extra = format!(
        "auth:\n  htpasswd:\n    realm: r\n    path: {}\nmiddleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {base}\n",
        dir.path().join("htpasswd").display()
    );
    let reg = Registry::start_with(dir, &extra);
    let client = client_builder()
        .credential(&reg.host, Credential::basic("carol", "pw-carol"))
        .build()
        .unwrap();
    let target = reg.reference("cdn/app:1");
    let bytes = pseudo_random(300_000, 31);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("blob");
    std::fs::write(&path, &bytes).unwrap();
    let d = Descriptor::new(
        media_type::OCI_LAYER_GZIP,
        Digest::sha256_of(&bytes),
        bytes.len() as u64,
    );
    client
        .push_blob_file(&target, &d, &path, None)
        .await
        .unwrap();

    let mut back = Vec::new();
    client.fetch_blob(&target, &d, &mut back).await.unwrap();
    assert!(
        back == bytes,
        "the redirected download has the blob's bytes"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the download went through the redirect");
    assert!(
        seen.iter().all(|(_, auth)| !auth),
        "no Authorization to the other host: {seen:?}"
    );
}
