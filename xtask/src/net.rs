//! Small network helpers: free ports, TCP probes, a raw Redis PING and a raw HTTP GET.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it).
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether `port` on 127.0.0.1 can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Whether something accepts TCP connections at `host:port` within `timeout`.
pub fn tcp_answers(host: &str, port: u16, timeout: Duration) -> bool {
    connect(host, port, timeout).is_ok()
}

fn connect(host: &str, port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                return Ok(stream);
            }
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// Whether a Redis server at `host:port` answers an unauthenticated `PING` with `+PONG`.
pub fn redis_pings(host: &str, port: u16, timeout: Duration) -> bool {
    let Ok(mut stream) = connect(host, port, timeout) else {
        return false;
    };
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0_u8; 16];
    let mut read = 0;
    while read < 5 {
        match stream.read(&mut reply[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    reply[..read].starts_with(b"+PONG")
}

/// Sends `GET path` over HTTP/1.1 to `host:port` and returns the status code, if any.
pub fn http_get_status(host: &str, port: u16, path: &str, timeout: Duration) -> Option<u16> {
    let mut stream = connect(host, port, timeout).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0_u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    parse_status_line(&head)
}

/// Extracts the status code from the start of an HTTP/1.x response.
pub fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// Whether `host` names this machine's loopback (`localhost`, 127.0.0.0/8 or `::1`).
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::thread;

    #[test]
    fn a_free_port_can_be_bound_and_is_reported_busy_while_bound() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        assert!(!port_is_free(port));
        assert!(tcp_answers("127.0.0.1", port, Duration::from_secs(1)));
        drop(listener);
        assert!(port_is_free(port));
    }

    #[test]
    fn nothing_answers_on_a_port_that_is_not_listened_on() {
        let port = free_port().unwrap();
        assert!(!tcp_answers("127.0.0.1", port, Duration::from_millis(500)));
        assert!(!redis_pings("127.0.0.1", port, Duration::from_millis(500)));
        assert_eq!(
            http_get_status("127.0.0.1", port, "/", Duration::from_millis(500)),
            None
        );
    }

    fn serve_once(reply: &'static [u8]) -> (u16, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = vec![0_u8; 512];
            let n = stream.read(&mut request).unwrap();
            request.truncate(n);
            stream.write_all(reply).unwrap();
            request
        });
        (port, handle)
    }

    #[test]
    fn redis_ping_needs_a_pong() {
        let (port, server) = serve_once(b"+PONG\r\n");
        assert!(redis_pings("127.0.0.1", port, Duration::from_secs(2)));
        assert_eq!(server.join().unwrap(), b"PING\r\n");

        let (port, server) = serve_once(b"-NOAUTH Authentication required.\r\n");
        assert!(!redis_pings("127.0.0.1", port, Duration::from_secs(2)));
        server.join().unwrap();
    }

    #[test]
    fn http_get_reads_the_status_code() {
        let (port, server) =
            serve_once(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        let status = http_get_status("127.0.0.1", port, "/health", Duration::from_secs(2));
        assert_eq!(status, Some(503));
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
    }

    #[test]
    fn status_lines_are_parsed_strictly() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status_line(b"+PONG\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 abc\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[test]
    fn loopback_names_and_addresses_are_local_and_others_are_not() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_local_host(host), "{host}");
        }
        for host in [
            "db.example.com",
            "10.0.0.5",
            "0.0.0.0",
            "192.168.1.1",
            "localhost.evil.com",
            "",
        ] {
            assert!(!is_local_host(host), "{host}");
        }
    }
}
