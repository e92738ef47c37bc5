//! Example binaries started as real processes, and plain HTTP/1.1 to them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A started binary, killed on drop.
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a port")
        .local_addr()
        .expect("an address")
        .port()
}

/// Starts `command` and waits until it accepts connections on `port`.
pub fn start_listening(mut command: Command, port: u16) -> Running {
    let child = command
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the binary");
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = running.0.try_wait() {
            panic!("the binary exited with {status} before listening on {port}");
        }
        assert!(
            Instant::now() < deadline,
            "the binary did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    running
}

/// What a plain HTTP request got back.
pub struct Response {
    pub status: u16,
    /// The `name=value` pair of the `Set-Cookie` header, if any.
    pub set_cookie: Option<String>,
    pub body: String,
}

/// One HTTP/1.1 request with a form body over a fresh socket.
pub fn http(port: u16, method: &str, path: &str, cookie: Option<&str>, form: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let cookie = cookie
        .map(|cookie| format!("Cookie: {cookie}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("receive");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status");
    let set_cookie = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("set-cookie").then(|| {
            value
                .trim()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    });
    Response {
        status,
        set_cookie,
        body: body.to_owned(),
    }
}
