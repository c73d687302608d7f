//! Images named by `S3Object`, read from the local stack's S3 (LocalStack on loopback), as Rekognition and
//! Textract read them from S3 on AWS.
//!
//! A plain HTTP/1.0 GET of the path-style URL: LocalStack does not check signatures, the answer is never chunked,
//! and nothing but a loopback address is ever dialled.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Where the local S3 listens, if the emulator was told.
#[derive(Debug, Clone, Default)]
pub struct S3 {
    endpoint: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum S3Error {
    #[error("the emulator was started without --s3-endpoint, so it cannot read S3 objects")]
    NoEndpoint,
    #[error(
        "{0} is not an http://127.0.0.1:PORT endpoint (the emulator reads S3 on loopback only)"
    )]
    NotLoopback(String),
    #[error("s3://{bucket}/{key}: {reason}")]
    Unreadable {
        bucket: String,
        key: String,
        reason: String,
    },
    #[error("s3://{bucket}/{key} is larger than {max} bytes")]
    TooLarge {
        bucket: String,
        key: String,
        max: usize,
    },
}

/// Percent-encodes a key for a path, keeping `/` (S3 keys are paths).
fn encode_key(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl S3 {
    /// `endpoint` is `http://127.0.0.1:PORT` (or `localhost`); anything else is refused.
    pub fn new(endpoint: Option<&str>) -> Result<Self, S3Error> {
        let Some(url) = endpoint else {
            return Ok(S3::default());
        };
        let authority = url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .ok_or_else(|| S3Error::NotLoopback(url.to_string()))?;
        let authority = authority.replace("localhost", "127.0.0.1");
        let addr: SocketAddr = authority
            .parse()
            .map_err(|_| S3Error::NotLoopback(url.to_string()))?;
        if !addr.ip().is_loopback() {
            return Err(S3Error::NotLoopback(url.to_string()));
        }
        Ok(S3 {
            endpoint: Some(addr),
        })
    }

    /// The object's bytes, refused past `max` bytes without reading further.
    pub fn get(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        max: usize,
    ) -> Result<Vec<u8>, S3Error> {
        let addr = self.endpoint.ok_or(S3Error::NoEndpoint)?;
        let unreadable = |reason: String| S3Error::Unreadable {
            bucket: bucket.to_string(),
            key: key.to_string(),
            reason,
        };
        let mut path = format!("/{}/{}", encode_key(bucket), encode_key(key));
        if let Some(v) = version {
            path.push_str(&format!("?versionId={}", encode_key(v).replace('/', "%2F")));
        }
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| unreadable(format!("connecting to {addr}: {e}")))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| unreadable(e.to_string()))?;
        // One write: a server that answers after the first packet must not see the request cut.
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .map_err(|e| unreadable(format!("sending to {addr}: {e}")))?;
        // Headers are a few KiB at most; anything past the object's limit is not read.
        let limit = max as u64 + 64 * 1024;
        let mut answer = Vec::new();
        stream
            .take(limit + 1)
            .read_to_end(&mut answer)
            .map_err(|e| unreadable(format!("reading from {addr}: {e}")))?;
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| unreadable("the answer has no headers".into()))?;
        let head = String::from_utf8_lossy(&answer[..split]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| unreadable("the answer has no status".into()))?;
        if status != 200 {
            return Err(unreadable(format!("GetObject answered {status}")));
        }
        let body = answer.split_off(split + 4);
        if body.len() > max {
            return Err(S3Error::TooLarge {
                bucket: bucket.to_string(),
                key: key.to_string(),
                max,
            });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn only_loopback_endpoints_are_taken() {
        assert!(S3::new(Some("http://127.0.0.1:4566")).is_ok());
        assert!(S3::new(Some("http://localhost:4566/")).is_ok());
        for bad in [
            "http://10.0.0.1:4566",
            "https://127.0.0.1:4566",
            "127.0.0.1:4566",
        ] {
            assert!(
                matches!(S3::new(Some(bad)), Err(S3Error::NotLoopback(_))),
                "{bad}"
            );
        }
        assert_eq!(
            S3::default().get("b", "k", None, 10),
            Err(S3Error::NoEndpoint)
        );
    }

    #[test]
    fn keys_keep_their_slashes_and_lose_their_spaces() {
        assert_eq!(encode_key("uploads/a b+c.jpg"), "uploads/a%20b%2Bc.jpg");
    }

    /// A one-shot server answering `answer` and handing back the request line it got.
    fn serve_once(answer: Vec<u8>) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let n = stream.read(&mut request).unwrap();
            stream.write_all(&answer).unwrap();
            String::from_utf8_lossy(&request[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        });
        (url, handle)
    }

    #[test]
    fn an_object_is_read_and_a_missing_one_says_why() {
        let (url, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec());
        let s3 = S3::new(Some(&url)).unwrap();
        assert_eq!(s3.get("bkt", "up/x.jpg", Some("v1"), 10).unwrap(), b"abc");
        assert_eq!(
            server.join().unwrap(),
            "GET /bkt/up/x.jpg?versionId=v1 HTTP/1.0"
        );

        let (url, server) = serve_once(b"HTTP/1.1 404 Not Found\r\n\r\n".to_vec());
        let err = S3::new(Some(&url))
            .unwrap()
            .get("bkt", "gone", None, 10)
            .unwrap_err();
        server.join().unwrap();
        assert!(err.to_string().contains("404"), "{err}");

        let (url, server) = serve_once(b"HTTP/1.1 200 OK\r\n\r\n0123456789ABC".to_vec());
        let err = S3::new(Some(&url))
            .unwrap()
            .get("bkt", "big", None, 10)
            .unwrap_err();
        server.join().unwrap();
        assert!(matches!(err, S3Error::TooLarge { max: 10, .. }), "{err}");
    }
}
