//! Minimal container fixture for the protocol driver tests: builds the lab
//! image (`lab/images/build.sh`, cached by recipe), starts single-role
//! containers with the docker CLI on a private network, and removes
//! everything on drop. Names are `drlab-t<pid>-<n>-<role>`. Where Docker is
//! unreachable a test prints one `SKIP` line and returns, unless
//! `DRLAB_REQUIRE_LAB=1` (then it fails).
//!
//! The skip guard and the image build are the shared harness's
//! (`drlab-labkit`); it starts the whole CI lab, while these tests need
//! single servers (one DC, one mail host, a BIND server), hence this file.

#![allow(dead_code, clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Limit on one docker CLI call (image builds have their own).
const DOCKER_CALL_TIMEOUT_MS: u64 = 60_000;

/// Runs a command with stdin bytes and a time limit; returns (status, stdout, stderr).
pub fn run(
    program: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    timeout_ms: u64,
) -> Result<(i32, String, String), String> {
    run_env(program, args, &[], stdin, timeout_ms)
}

/// [`run`] with environment variables for the child (how secrets reach
/// `docker run -e NAME`: never on a command line).
pub fn run_env(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
    timeout_ms: u64,
) -> Result<(i32, String, String), String> {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let (Some(bytes), Some(mut w)) = (stdin, child.stdin.take()) {
        w.write_all(bytes)
            .map_err(|e| format!("{program} stdin: {e}"))?;
    }
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{program} {} timed out after {timeout_ms} ms",
                args.first().unwrap_or(&"")
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = ereader.join().unwrap_or_default();
    Ok((status.code().unwrap_or(-1), stdout, stderr))
}

/// `docker args...`, stdout on success.
pub fn docker(args: &[&str]) -> Result<String, String> {
    docker_in(args, None)
}

/// `docker args...` with stdin, stdout on success.
pub fn docker_in(args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
    let (code, out, err) = run("docker", args, stdin, DOCKER_CALL_TIMEOUT_MS)?;
    if code == 0 {
        Ok(out)
    } else {
        Err(format!(
            "docker {} failed ({code}): {}",
            args.first().unwrap_or(&""),
            err.trim()
        ))
    }
}

/// The guard of every test here: `Some(())` if Docker answers; otherwise
/// one `SKIP <test>: Docker is not reachable (<why>)` line and `None`, or a
/// failure when `DRLAB_REQUIRE_LAB=1`. (Same contract as
/// `drlab_labkit::require_lab_or_skip`, which it calls.)
pub fn lab_or_skip(test: &str) -> Option<()> {
    drlab_labkit::require_lab_or_skip(test)
}

/// The lab image, built once per process by the shared harness
/// (`lab/images/build.sh` does nothing when the recipe is unchanged).
pub fn image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            drlab_labkit::build_image(&drlab_labkit::default_images_dir(), &|_| {})
                .unwrap_or_else(|e| panic!("building the lab image: {e}"))
        })
        .clone()
}

fn unique(role: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "drlab-t{}-{}-{role}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A private docker network, removed on drop.
pub struct Net {
    /// Its name.
    pub name: String,
}

impl Net {
    /// Creates a network.
    pub fn new() -> Net {
        let name = unique("net");
        docker(&["network", "create", "--label", "drlab.test=drivers", &name])
            .expect("docker network create");
        Net { name }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// A running container of the lab image, removed on drop.
pub struct Container {
    /// Its name.
    pub name: String,
    /// Its address on the network.
    pub ip: Ipv4Addr,
}

impl Container {
    /// Starts the image with `ROLE=role` and extra `docker run` arguments.
    pub fn start(net: &Net, role: &str, hostname: &str, extra: &[&str]) -> Container {
        Container::start_with_secrets(net, role, hostname, extra, &[])
    }

    /// [`Container::start`] with secret environment variables, passed as
    /// `-e NAME` so that their values stay off the command line.
    pub fn start_with_secrets(
        net: &Net,
        role: &str,
        hostname: &str,
        extra: &[&str],
        secrets: &[(&str, &str)],
    ) -> Container {
        let name = unique(role);
        let role_env = format!("ROLE={role}");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--hostname",
            hostname,
            "--network",
            &net.name,
            "--label",
            "drlab.test=drivers",
            "-e",
            &role_env,
        ];
        args.extend_from_slice(extra);
        for (k, _) in secrets {
            args.push("-e");
            args.push(k);
        }
        let image = image();
        args.push(&image);
        match run_env("docker", &args, secrets, None, DOCKER_CALL_TIMEOUT_MS) {
            Ok((0, _, _)) => {}
            Ok((code, _, err)) => panic!("starting {role} ({code}): {}", err.trim()),
            Err(e) => panic!("starting {role}: {e}"),
        }
        let ip = docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &name,
        ])
        .expect("docker inspect")
        .trim()
        .parse()
        .expect("container address");
        Container { name, ip }
    }

    /// Waits until `/run/drlab-ready` exists (the role is up).
    pub fn wait_ready(&self, timeout_s: u64) {
        let deadline = Instant::now() + Duration::from_secs(timeout_s);
        while Instant::now() < deadline {
            if docker(&["exec", &self.name, "test", "-e", "/run/drlab-ready"]).is_ok() {
                return;
            }
            let running =
                docker(&["inspect", "-f", "{{.State.Running}}", &self.name]).unwrap_or_default();
            if running.trim() != "true" {
                let logs = docker(&["logs", "--tail", "30", &self.name]).unwrap_or_default();
                panic!("{} exited:\n{logs}", self.name);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let logs = run(
            "docker",
            &["logs", "--tail", "30", &self.name],
            None,
            10_000,
        )
        .map(|(_, o, e)| o + &e)
        .unwrap_or_default();
        panic!("{} not ready after {timeout_s}s:\n{logs}", self.name);
    }

    /// `docker exec` with optional stdin; stdout on success.
    pub fn exec(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
        let mut args = vec!["exec"];
        if stdin.is_some() {
            args.push("-i");
        }
        args.push(&self.name);
        args.extend_from_slice(argv);
        docker_in(&args, stdin)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.name]);
    }
}

/// Random bytes from the kernel (keys and passwords of a test).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("/dev/urandom");
    b
}

/// A random password that satisfies AD complexity (upper, lower, digit).
pub fn password() -> String {
    let hex: String = random_bytes(8).iter().map(|b| format!("{b:02x}")).collect();
    format!("Drl4b-{hex}X")
}

/// Standard base64 (RFC 4648 §4) with padding.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Polls `f` every `every_ms` until it returns `Some`, or gives up after `limit_ms`.
pub async fn eventually<T, F, Fut>(limit_ms: u64, every_ms: u64, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_millis(limit_ms);
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(every_ms)).await;
    }
}

/// What a client resolver saw while a record changed on its server.
#[derive(Debug)]
pub struct Propagation {
    /// From the client's first (cached) lookup to the first lookup that
    /// returned the new data.
    pub seen_after: Duration,
    /// Lookups between the change and then, all answered from the cache
    /// with the old data.
    pub stale_lookups: u32,
}

/// Caches `name` (A, old data) in `resolver`, then polls every 50 ms until
/// the resolver returns `new_ip`, for at most `limit_ms`; every lookup
/// before that must be the old answer from the cache. `changed` is awaited
/// right after the first lookup: it makes the change on the server.
pub async fn watch_change<F: std::future::Future<Output = ()>>(
    resolver: &drlab_real::dns::Resolver,
    name: &str,
    old_ip: &str,
    new_ip: &str,
    limit_ms: u64,
    changed: F,
) -> Option<Propagation> {
    use drlab_drivers::types::RecordType;
    let first = resolver
        .resolve(name, RecordType::A)
        .await
        .expect("first lookup");
    assert!(!first.from_cache, "the first lookup must ask the server");
    assert_eq!(
        first.first_addr().map(|a| a.to_string()).as_deref(),
        Some(old_ip)
    );
    let cached_at = Instant::now();
    changed.await;
    let mut stale_lookups = 0;
    let deadline = cached_at + Duration::from_millis(limit_ms);
    while Instant::now() < deadline {
        let r = resolver.resolve(name, RecordType::A).await.expect("lookup");
        let ip = r.first_addr().map(|a| a.to_string());
        if ip.as_deref() == Some(new_ip) {
            assert!(!r.from_cache, "new data can only come from the server");
            return Some(Propagation {
                seen_after: cached_at.elapsed(),
                stale_lookups,
            });
        }
        assert!(r.from_cache, "an old answer must come from the cache");
        assert_eq!(ip.as_deref(), Some(old_ip));
        stale_lookups += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

// ------------------------------------------------------------------ BIND

use std::net::SocketAddr;

use drlab_real::dns::{TsigAlgorithm, TsigKey};
use drlab_real::secret::Secret;

/// Forward zone of the test BIND server.
pub const BIND_ZONE: &str = "lab.test";
/// Reverse zone of the test BIND server.
pub const BIND_REVERSE_ZONE: &str = "77.10.in-addr.arpa";
/// Name of the TSIG key that may update both zones.
pub const BIND_KEY_NAME: &str = "drlab-key";

/// A BIND server with zones `lab.test` and `77.10.in-addr.arpa`, updatable
/// only with [`BIND_KEY_NAME`].
pub struct Bind {
    // drop order: the container before its network
    pub c: Container,
    _net: Net,
    pub addr: SocketAddr,
    pub key: TsigKey,
    /// The key's base64 text, to check that no output shows it.
    pub secret_b64: String,
}

pub fn start_bind() -> Bind {
    let net = Net::new();
    let c = Container::start(&net, "client", "ns", &[]);
    c.wait_ready(30);
    let secret = base64(&random_bytes(32));
    let conf = format!(
        r#"options {{
    directory "/var/cache/bind";
    listen-on {{ any; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    dnssec-validation no;
    pid-file none;
}};
key "{BIND_KEY_NAME}" {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "{BIND_ZONE}" {{ type primary; file "/var/lib/bind/{BIND_ZONE}.zone"; allow-update {{ key "{BIND_KEY_NAME}"; }}; }};
zone "{BIND_REVERSE_ZONE}" {{ type primary; file "/var/lib/bind/{BIND_REVERSE_ZONE}.zone"; allow-update {{ key "{BIND_KEY_NAME}"; }}; }};
"#
    );
    let zone = "$TTL 60\n@ IN SOA ns.lab.test. hostmaster.lab.test. 1 60 60 3600 2\n  IN NS ns.lab.test.\n";
    let fwd = format!("{zone}ns IN A {}\n", c.ip);
    // the key goes in on stdin, never on a command line
    c.exec(
        &[
            "sh",
            "-c",
            "umask 027; cat > /etc/bind/drlab.conf && chgrp bind /etc/bind/drlab.conf",
        ],
        Some(conf.as_bytes()),
    )
    .expect("write named.conf");
    for (file, text) in [(BIND_ZONE, fwd.as_str()), (BIND_REVERSE_ZONE, zone)] {
        let path = format!("/var/lib/bind/{file}.zone");
        c.exec(
            &[
                "sh",
                "-c",
                &format!("cat > {path} && chown bind:bind {path}"),
            ],
            Some(text.as_bytes()),
        )
        .expect("write zone");
    }
    c.exec(
        &[
            "named",
            "-u",
            "bind",
            "-c",
            "/etc/bind/drlab.conf",
            "-L",
            "/var/cache/bind/named.log",
        ],
        None,
    )
    .expect("start named");
    let addr = SocketAddr::new(c.ip.into(), 53);
    let up = (0..80).any(|_| {
        let ok = c
            .exec(
                &[
                    "dig",
                    "+short",
                    "+time=1",
                    "+tries=1",
                    "@127.0.0.1",
                    BIND_ZONE,
                    "SOA",
                ],
                None,
            )
            .is_ok_and(|o| !o.trim().is_empty());
        if !ok {
            std::thread::sleep(Duration::from_millis(250));
        }
        ok
    });
    assert!(
        up,
        "named did not come up: {:?}",
        c.exec(&["tail", "-20", "/var/cache/bind/named.log"], None)
    );
    let key = TsigKey::new(
        BIND_KEY_NAME,
        TsigAlgorithm::HmacSha256,
        Secret::new(secret.clone()),
    )
    .expect("key");
    Bind {
        c,
        _net: net,
        addr,
        key,
        secret_b64: secret,
    }
}

// ------------------------------------------------------------------ tool commands

/// Runs a [`drlab_real::dns::ToolCommand`] in a container the way an SSH
/// executor would: its environment set, its secret on stdin.
pub fn exec_tool(c: &Container, cmd: &drlab_real::dns::ToolCommand) -> Result<String, String> {
    let env: Vec<String> = cmd.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut args: Vec<&str> = vec!["exec", "-i"];
    for e in &env {
        args.push("-e");
        args.push(e);
    }
    args.push(&c.name);
    args.push(&cmd.program);
    args.extend(cmd.args.iter().map(String::as_str));
    let stdin = cmd.stdin_bytes().unwrap_or_default();
    docker_in(&args, Some(&stdin))
}

// ------------------------------------------------------------------ Samba DC

/// A Samba AD DC (realm DRLAB.TEST) shared by the tests of one binary
/// while any of them holds it.
pub struct Dc {
    /// The container.
    pub c: Container,
    _net: Net,
    /// Administrator's password.
    pub admin_password: Secret,
    /// How long the DC took to be ready.
    pub startup: Duration,
}

/// The shared DC, started on first use.
pub fn shared_dc() -> std::sync::Arc<Dc> {
    use std::sync::{Arc, Mutex, Weak};
    static DC: Mutex<Weak<Dc>> = Mutex::new(Weak::new());
    let mut slot = DC.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dc) = slot.upgrade() {
        return dc;
    }
    let t0 = Instant::now();
    let net = Net::new();
    let pw = password();
    let c = Container::start_with_secrets(&net, "dc", "dc1", &[], &[("DC_ADMIN_PASSWORD", &pw)]);
    c.wait_ready(180);
    let dc = Arc::new(Dc {
        c,
        _net: net,
        admin_password: Secret::new(pw),
        startup: t0.elapsed(),
    });
    *slot = Arc::downgrade(&dc);
    dc
}
