//! A local server speaking Lambda's Invoke API (`POST /2015-03-31/functions/{name}/invocations`),
//! standing in for the functions the AWS adapters invoke, and the plain HTTP server under it
//! ([`http_server`]) for tests that stand in for another service (STS refusing a role).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

/// A response of the local Invoke API server.
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: Vec<u8>) -> Reply {
        Reply { status: 200, headers: Vec::new(), body }
    }
    /// `status` with `body`.
    pub fn status(status: u16, body: Vec<u8>) -> Reply {
        Reply { status, headers: Vec::new(), body }
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// What the server does with an invocation: the function's name (the last `:`-separated part
/// of the name or ARN in the path, qualifier dropped) and the request body.
pub type Route = Arc<dyn Fn(&str, &[u8]) -> Reply + Send + Sync>;

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bare function name in an Invoke path segment (name, partial or full ARN, qualified).
fn function_name(segment: &str) -> String {
    let decoded = percent_decode(segment);
    match decoded.split_once("function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_string(),
        None => decoded.split(':').next().unwrap_or(&decoded).to_string(),
    }
}

/// A request the local server received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The headers as sent (names in the case sent).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value (the name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The access key id of a SigV4 `Authorization` header (`Credential=KEY/...`).
    pub fn access_key(&self) -> Option<&str> {
        let auth = self.header("authorization")?;
        let cred = auth.split("Credential=").nth(1)?;
        cred.split('/').next()
    }
}

/// What a [`http_server`] answers.
pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// Starts a server for `POST /2015-03-31/functions/{name}/invocations` on a free loopback
/// port (a thread per connection, for the life of the test process); returns its base URL.
pub fn invoke_server(route: Route) -> String {
    http_server(Arc::new(move |req: &Request| {
        let segments: Vec<&str> = req.path.split('?').next().unwrap_or("").split('/').collect();
        match segments.as_slice() {
            ["", "2015-03-31", "functions", name, "invocations"] => route(&function_name(name), &req.body),
            _ => Reply::status(400, b"{\"message\":\"not an Invoke request\"}".to_vec()),
        }
    }))
}

/// Starts an HTTP/1.1 server answering every request with `handler` on a free loopback port
/// (a thread per connection, for the life of the test process); returns its base URL.
pub fn http_server(handler: Handler) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = serve(stream, handler);
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn serve(stream: std::net::TcpStream, handler: Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut words = request_line.split_whitespace();
        let method = words.next().unwrap_or("").to_string();
        let path = words.next().unwrap_or("").to_string();
        let mut length = 0usize;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let reply = handler(&Request { method, path, headers, body });
        let reason = match reply.status {
            200 => "OK",
            403 => "Forbidden",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            _ => "Status",
        };
        let typed = reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\n{}Content-Length: {}\r\nX-Amzn-RequestId: local\r\n",
            reply.status,
            if typed { "" } else { "Content-Type: application/json\r\n" },
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = stream.try_clone()?;
        out.write_all(head.as_bytes())?;
        out.write_all(&reply.body)?;
        out.flush()?;
    }
}
