//! Real servers for tests: an SMTP server that keeps what it receives (aiosmtpd), an HTTP
//! receiver that records requests and answers as scripted, and a Kannel (bearerbox + smsbox)
//! whose SMSC is such a receiver.

#![allow(dead_code)]

use crate::common::Scratch;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn support_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support")
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd writing each message to a folder.
pub struct SmtpCapture {
    pub port: u16,
    pub dir: Scratch,
    _proc: Proc,
}

impl SmtpCapture {
    /// A server that offers PIPELINING.
    pub fn start() -> SmtpCapture {
        SmtpCapture::start_with(&[])
    }

    /// A server started with extra options (`--no-pipelining`).
    pub fn start_with(options: &[&str]) -> SmtpCapture {
        let dir = Scratch::new();
        let mut child = Command::new("python3")
            .arg(support_dir().join("smtp_capture.py"))
            .args(["--dir", dir.0.to_str().expect("utf-8")])
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the aiosmtpd capture server (pip install aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("capture server said {line:?}"));
        SmtpCapture {
            port,
            dir,
            _proc: Proc(child),
        }
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir.0)
            .expect("dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read(p).expect("read"))
            .collect()
    }

    pub fn wait_for(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One request an [`HttpReceiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
    pub fn query(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
    pub fn param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .chain(self.form())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// A scripted answer: status, extra headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

#[derive(Clone, Default)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    default: Arc<Mutex<Option<Answer>>>,
}

/// An HTTP server on a free port that records every request.
pub struct HttpReceiver {
    pub addr: SocketAddr,
    state: ReceiverState,
    task: tokio::task::JoinHandle<()>,
}

async fn record(
    State(s): State<ReceiverState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.received.lock().expect("lock").push(Received {
        method,
        uri,
        headers,
        body,
    });
    let answer = s
        .script
        .lock()
        .expect("lock")
        .pop_front()
        .or_else(|| s.default.lock().expect("lock").clone());
    let (status, headers, body) = answer.unwrap_or((200, vec![], "ok".into()));
    let mut resp = (StatusCode::from_u16(status).expect("status"), body).into_response();
    for (k, v) in headers {
        resp.headers_mut().insert(k, v.parse().expect("header"));
    }
    resp
}

impl HttpReceiver {
    pub async fn start() -> HttpReceiver {
        let state = ReceiverState::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpReceiver { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().expect("lock").extend(answers);
    }

    /// Requests with nothing scripted get this answer.
    pub fn answer_by_default(&self, answer: Answer) {
        *self.state.default.lock().expect("lock") = Some(answer);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("lock").clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.received();
            if r.len() >= n || Instant::now() > deadline {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A real Kannel: bearerbox with a generic HTTP SMSC (`operator`) and an smsbox whose sendsms
/// interface is at `sendsms_url`.
pub struct Kannel {
    pub sendsms_url: String,
    pub dir: Scratch,
    _bearerbox: Proc,
    _smsbox: Proc,
}

impl Kannel {
    pub async fn start(operator: &HttpReceiver, username: &str, password: &str) -> Kannel {
        let dir = Scratch::new();
        let (admin, smsbox_port, smsc_port, sendsms) =
            (free_port(), free_port(), free_port(), free_port());
        let conf = format!(
            r#"group = core
admin-port = {admin}
admin-password = admin-{admin}
smsbox-port = {smsbox_port}
box-allow-ip = 127.0.0.1
log-file = "{log}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = http
smsc-id = operator
system-type = generic
port = {smsc_port}
send-url = "{operator}?to=%p&from=%P&text=%a&coding=%c"
status-success-regex = "Sent"

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
log-file = "{log}/smsbox.log"
log-level = 1

group = sendsms-user
username = {username}
password = {password}
max-messages = 3
concatenation = true
"#,
            log = dir.0.display(),
            operator = operator.url("/mt"),
        );
        let conf_path = dir.write("kannel.conf", &conf);
        let spawn = |bin: &str| {
            Proc(
                Command::new(bin)
                    .arg(&conf_path)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("start {bin} (apt-get install kannel): {e}")),
            )
        };
        let bearerbox = spawn("bearerbox");
        wait_port(smsbox_port).await;
        let smsbox = spawn("smsbox");
        wait_port(sendsms).await;
        Kannel {
            sendsms_url: format!("http://127.0.0.1:{sendsms}/cgi-bin/sendsms"),
            dir,
            _bearerbox: bearerbox,
            _smsbox: smsbox,
        }
    }
}

pub async fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a Python helper from tests/support with `input` on stdin; returns stdout.
pub fn python(script: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("python3")
        .arg(support_dir().join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
