//! Tests of the `wan` lab shape against real containers: two site networks
//! (hq: DC1, EXCH1, CLIENT1; dr: DC2, EXCH2) with a router container
//! between them, every host routing the other site via the router (Docker
//! isolates the two bridges otherwise: checked, not assumed), the WAN
//! bandwidth as a `tc` token bucket on the router, DC2 a second domain
//! controller of the domain that replicates with DC1, and EXCH1's store
//! replicated to EXCH2 across the router.

#![allow(clippy::print_stderr)]

use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drlab_labkit::{
    Lab, LabOptions, LabTest, LabTestResult, Shape, Site, WAN_ROUTER, check, run_lab_tests,
};
use drlab_real::inventory::{Inventory, LabRole};

/// The WAN link's bandwidth the lab is started with (Mbit/s).
const WAN_MBPS: f64 = 10.0;

/// Every progress line of the lab's start, to check that none leaks a secret.
static PROGRESS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn options() -> LabOptions {
    let dir = std::env::temp_dir().join(format!("drlab-labkit-wan-test-{}", std::process::id()));
    let mut o = LabOptions::new(dir).with_progress(|line| {
        eprintln!("[lab] {line}");
        PROGRESS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
    });
    o.name = Some(format!("wan-{}", std::process::id()));
    o.shape = Shape::Wan;
    o.wan_bandwidth_mbps = Some(WAN_MBPS);
    o
}

fn main() -> ExitCode {
    run_lab_tests(
        options,
        vec![
            LabTest::new("wan_hosts_sit_on_their_sites_networks", networks),
            LabTest::new("wan_exch1_reaches_exch2_only_through_the_router", routing),
            LabTest::new("wan_bandwidth_is_a_tbf_on_the_router", bandwidth),
            LabTest::new("wan_dc2_is_a_second_dc_and_replicates_with_dc1", second_dc),
            LabTest::new(
                "wan_exch1_replicates_to_exch2_across_the_router",
                mail_replication,
            ),
            LabTest::new("wan_a_restarted_host_keeps_its_route", restart),
            LabTest::new("wan_secrets_stay_out_of_outputs", secrets),
        ],
    )
}

/// The kit's `docker` call with its time limit.
fn docker(args: &[&str]) -> Result<String, String> {
    drlab_labkit::docker(args, drlab_labkit::DOCKER_CALL_TIMEOUT_MS)
}

/// Runs `sh -c script` in a host's container; stdout, or an error with
/// the exit code and stderr.
fn sh(lab: &Lab, host: &str, script: &str) -> Result<String, Box<dyn std::error::Error>> {
    let (code, out, err) = lab.exec(host, &["sh", "-c", script])?;
    if code == 0 {
        Ok(out)
    } else {
        Err(format!(
            "{host}: `{script}` exit {code}: {}{}",
            out.trim(),
            err.trim()
        )
        .into())
    }
}

fn site<'a>(lab: &'a Lab, name: &str) -> Result<&'a Site, Box<dyn std::error::Error>> {
    lab.sites()
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("no site {name}").into())
}

/// Whether `addr` lies in `subnet` (`a.b.c.0/24`).
fn in_subnet(addr: std::net::IpAddr, subnet: &str) -> bool {
    let prefix = subnet.trim_end_matches("0/24");
    subnet.ends_with(".0/24") && addr.to_string().starts_with(prefix)
}

fn address(inv: &Inventory, host: &str) -> Result<std::net::IpAddr, Box<dyn std::error::Error>> {
    Ok(inv.host(host).ok_or(format!("{host} missing"))?.address)
}

fn networks(lab: &Lab) -> LabTestResult {
    eprintln!(
        "wan lab {} up in {:.1} s",
        lab.name(),
        lab.startup().as_secs_f64()
    );
    let inv = Inventory::load(lab.inventory_path())?;
    let (hq, dr) = (site(lab, "hq")?, site(lab, "dr")?);
    check(hq.subnet != dr.subnet, "distinct subnets")?;
    check(
        hq.network == format!("drlab-{}-hq", lab.name())
            && dr.network == format!("drlab-{}-dr", lab.name()),
        format!("network names {} {}", hq.network, dr.network),
    )?;
    check(
        inv.lab.docker_network.as_deref() == Some(hq.network.as_str()),
        "docker_network is the hq network",
    )?;
    let mgmt = format!("drlab-{}-mgmt", lab.name());
    for (s, hosts) in [
        (hq, ["DC1", "EXCH1", "CLIENT1"].as_slice()),
        (dr, &["DC2", "EXCH2"]),
    ] {
        let mut got: Vec<&str> = s.hosts.iter().map(String::as_str).collect();
        got.sort_unstable();
        let mut want = hosts.to_vec();
        want.sort_unstable();
        check(
            got == want,
            format!("site {} hosts {got:?}, want {want:?}", s.name),
        )?;
        for h in hosts {
            let a = address(&inv, h)?;
            check(in_subnet(a, &s.subnet), format!("{h} {a} in {}", s.subnet))?;
            let c = lab.container(h).ok_or(format!("{h}: no container"))?;
            let nets = docker(&[
                "inspect",
                "-f",
                "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                &c,
            ])?;
            let mut nets: Vec<&str> = nets.split_whitespace().collect();
            nets.sort_unstable();
            let mut want = vec![s.network.as_str(), mgmt.as_str()];
            want.sort_unstable();
            check(
                nets == want,
                format!("{h} networks {nets:?}, want {want:?}"),
            )?;
        }
    }
    // the router: on both sites, not on the management network, forwarding
    let router = lab.router_container().ok_or("no router")?;
    let nets = docker(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}",
        &router,
    ])?;
    let mut nets: Vec<&str> = nets.split_whitespace().collect();
    nets.sort_unstable();
    let mut want = vec![
        format!("{}={}", dr.network, dr.router),
        format!("{}={}", hq.network, hq.router),
    ];
    want.sort_unstable();
    check(
        nets == want,
        format!("router networks {nets:?}, want {want:?}"),
    )?;
    let fwd = sh(lab, WAN_ROUTER.0, "cat /proc/sys/net/ipv4/ip_forward")?;
    check(fwd.trim() == "1", "router forwards")?;
    // the inventory: DC2 is a DC with DNS and LDAP like DC1
    for dc in ["DC1", "DC2"] {
        let e = inv.host(dc).ok_or(format!("{dc} missing"))?;
        check(
            e.roles == [LabRole::DomainController, LabRole::Dns],
            format!("{dc} roles {:?}", e.roles),
        )?;
        let ldap = e.ldap.as_ref().ok_or(format!("{dc}: no ldap"))?;
        check(
            ldap.url == format!("ldap://{}", e.address),
            format!("{dc} ldap {}", ldap.url),
        )?;
        check(e.dns.is_some(), format!("{dc}: dns"))?;
    }
    check(
        inv.host("ROUTER").is_none(),
        "the router is no scenario host",
    )?;
    eprintln!(
        "inventory:\n{}",
        std::fs::read_to_string(lab.inventory_path())?
    );
    Ok(())
}

/// Packets the router has forwarded (`Ip: ForwDatagrams` of its netns).
fn forwarded(lab: &Lab) -> Result<u64, Box<dyn std::error::Error>> {
    let snmp = sh(lab, WAN_ROUTER.0, "cat /proc/net/snmp")?;
    let mut ip = snmp.lines().filter(|l| l.starts_with("Ip:"));
    let (names, values) = (ip.next().ok_or("Ip:")?, ip.next().ok_or("Ip: values")?);
    let i = names
        .split_whitespace()
        .position(|n| n == "ForwDatagrams")
        .ok_or("ForwDatagrams")?;
    Ok(values.split_whitespace().nth(i).ok_or("value")?.parse()?)
}

fn routing(lab: &Lab) -> LabTestResult {
    let inv = Inventory::load(lab.inventory_path())?;
    let (hq, dr) = (site(lab, "hq")?, site(lab, "dr")?);
    let exch2 = address(&inv, "EXCH2")?;
    let dc1 = address(&inv, "DC1")?;
    // EXCH1 -> EXCH2: via the router's hq address, and it connects
    let get = sh(lab, "EXCH1", &format!("ip route get {exch2}"))?;
    eprintln!("EXCH1: ip route get {exch2}: {}", get.trim());
    check(
        get.contains(&format!("via {} ", hq.router)),
        format!("EXCH1 -> EXCH2 not via the router {}: {get}", hq.router),
    )?;
    let before = forwarded(lab)?;
    sh(
        lab,
        "EXCH1",
        &format!("timeout 5 bash -c '</dev/tcp/{exch2}/22'"),
    )
    .map_err(|e| format!("EXCH1 cannot connect to EXCH2:22 through the router: {e}"))?;
    let after = forwarded(lab)?;
    check(
        after > before,
        format!("the router forwarded nothing ({before} -> {after})"),
    )?;
    // and back: EXCH2 reaches DC1 via the router's dr address
    let back = sh(lab, "EXCH2", &format!("ip route get {dc1}"))?;
    check(
        back.contains(&format!("via {} ", dr.router)),
        format!("EXCH2 -> DC1 not via the router {}: {back}", dr.router),
    )?;
    sh(
        lab,
        "EXCH2",
        &format!("timeout 5 bash -c '</dev/tcp/{dc1}/389'"),
    )
    .map_err(|e| format!("EXCH2 cannot reach DC1's LDAP: {e}"))?;
    // without the route EXCH1 would not reach EXCH2: the packets go to
    // Docker's gateway, whose isolation rules drop traffic between two
    // bridges. The route is put back in the same script, whatever happens.
    let script = format!(
        "ip route del {sub} via {r}; \
         if timeout 3 bash -c '</dev/tcp/{exch2}/22' 2>/dev/null; then res=reached; else res=unreachable; fi; \
         g=$(ip route get {exch2} | head -n1); \
         ip route replace {sub} via {r}; \
         echo \"$res|$g\"",
        sub = dr.subnet,
        r = hq.router,
    );
    let out = sh(lab, "EXCH1", &script)?;
    eprintln!("EXCH1 without the route: {}", out.trim());
    let (res, g) = out.trim().split_once('|').ok_or("output")?;
    check(
        !g.contains(&hq.router.to_string()),
        format!("without the route still via the router: {g}"),
    )?;
    check(
        res == "unreachable",
        format!(
            "EXCH1 reached EXCH2 without the route through the router ({g}): the bridges are not isolated"
        ),
    )?;
    // restored
    let get = sh(lab, "EXCH1", &format!("ip route get {exch2}"))?;
    check(
        get.contains(&format!("via {} ", hq.router)),
        "route restored",
    )?;
    sh(
        lab,
        "EXCH1",
        &format!("timeout 5 bash -c '</dev/tcp/{exch2}/22'"),
    )?;
    Ok(())
}

fn bandwidth(lab: &Lab) -> LabTestResult {
    let (hq, dr) = (site(lab, "hq")?, site(lab, "dr")?);
    let rate = format!("rate {}Mbit", WAN_MBPS as u64);
    for own in [hq.router, dr.router] {
        let q = sh(
            lab,
            WAN_ROUTER.0,
            &format!(
                "dev=$(ip -o addr show | awk -v a='{own}/' 'index($4, a) == 1 {{ print $2; exit }}'); tc qdisc show dev \"$dev\" root"
            ),
        )?;
        eprintln!("router {own}: {}", q.trim());
        check(
            q.contains("tbf") && q.contains(&rate),
            format!("no tbf {rate} on the router's {own}: {q}"),
        )?;
    }
    // latency and loss would need netem, which this kernel lacks
    let (code, _, err) = lab.exec(
        WAN_ROUTER.0,
        &[
            "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "20ms",
        ],
    )?;
    eprintln!("netem on the router: exit {code} {}", err.trim());
    if code == 0 {
        let _ = lab.exec(WAN_ROUTER.0, &["tc", "qdisc", "del", "dev", "lo", "root"]);
    }
    // 2.5 MB from EXCH1 to EXCH2 over ssh take at least 2 s at 10 Mbit/s
    // (about 0.1 s unshaped on a bridge)
    let inv = Inventory::load(lab.inventory_path())?;
    let exch2 = address(&inv, "EXCH2")?;
    let out = sh(
        lab,
        "EXCH1",
        &format!(
            "s=$(date +%s%N); head -c 2500000 /dev/urandom | ssh -o BatchMode=yes root@{exch2} 'cat >/dev/null'; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))"
        ),
    )?;
    let ms: u64 = out.trim().parse()?;
    let mbps = 2.5 * 8.0 / (ms as f64 / 1000.0);
    eprintln!("2.5 MB EXCH1 -> EXCH2 in {ms} ms: {mbps:.1} Mbit/s (link {WAN_MBPS} Mbit/s)");
    check(
        mbps <= WAN_MBPS * 1.15,
        format!("{mbps:.1} Mbit/s through a {WAN_MBPS} Mbit/s link"),
    )?;
    Ok(())
}

/// `samba-tool drs replicate DEST SRC NC` run on `on`, as Administrator:
/// the password goes from the container's environment (as the dc role got
/// it) to samba-tool's (PASSWD), never onto a command line.
fn replicate(lab: &Lab, on: &str, dest: &str, src: &str, nc: &str) -> LabTestResult {
    let out = sh(
        lab,
        on,
        &format!(
            "PASSWD=\"$DC_ADMIN_PASSWORD\" samba-tool drs replicate {dest} {src} '{nc}' -U Administrator"
        ),
    )?;
    eprintln!("{on}: drs replicate {dest} {src} {nc}: {}", out.trim());
    Ok(())
}

fn ldb_has(lab: &Lab, host: &str, filter: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let out = sh(
        lab,
        host,
        &format!("ldbsearch -H /var/lib/samba/private/sam.ldb '{filter}' dn"),
    )?;
    Ok(out.lines().any(|l| l.starts_with("dn: ")))
}

fn second_dc(lab: &Lab) -> LabTestResult {
    let inv = Inventory::load(lab.inventory_path())?;
    let domain = inv.lab.domain.clone();
    let base = domain
        .split('.')
        .map(|p| format!("DC={p}"))
        .collect::<Vec<_>>()
        .join(",");
    // both are domain controllers of the one domain (DC1's view)
    let dcs = sh(
        lab,
        "DC1",
        &format!(
            "ldbsearch -H /var/lib/samba/private/sam.ldb -b 'OU=Domain Controllers,{base}' '(objectClass=computer)' dn"
        ),
    )?;
    for dc in ["DC1", "DC2"] {
        check(
            dcs.contains(&format!("dn: CN={dc},OU=Domain Controllers,{base}")),
            format!("{dc} not a DC of the domain: {dcs}"),
        )?;
    }
    let sid = |h: &str| -> Result<String, Box<dyn std::error::Error>> {
        let out = sh(
            lab,
            h,
            &format!("ldbsearch -H /var/lib/samba/private/sam.ldb -s base -b '{base}' objectSid"),
        )?;
        Ok(out
            .lines()
            .find(|l| l.starts_with("objectSid:"))
            .unwrap_or("")
            .to_string())
    };
    let (s1, s2) = (sid("DC1")?, sid("DC2")?);
    check(
        !s1.is_empty() && s1 == s2,
        format!("domain SID {s1} / {s2}"),
    )?;
    // DC2's own DNS serves the zone
    let soa = sh(lab, "DC2", &format!("dig +short @127.0.0.1 {domain} SOA"))?;
    check(!soa.trim().is_empty(), "DC2 serves the zone")?;

    // a computer account and an A record made on DC1 appear on DC2 after a
    // forced replication of the domain and DomainDnsZones partitions
    let tag = std::process::id() % 100_000;
    let probe = format!("WANP{tag}");
    let t0 = Instant::now();
    sh(
        lab,
        "DC1",
        &format!("samba-tool computer create {probe} -H /var/lib/samba/private/sam.ldb"),
    )?;
    let a = "10.212.250.77";
    let rec = format!("wanp{tag}");
    sh(
        lab,
        "DC1",
        &format!("samba-tool dns add 127.0.0.1 {domain} {rec} A {a} -P"),
    )?;
    let filter = format!("(sAMAccountName={probe}$)");
    let early = ldb_has(lab, "DC2", &filter)?;
    eprintln!("{probe} on DC2 before the forced replication: {early}");
    replicate(lab, "DC2", "dc2", "dc1", &base)?;
    replicate(
        lab,
        "DC2",
        "dc2",
        "dc1",
        &format!("DC=DomainDnsZones,{base}"),
    )?;
    check(
        ldb_has(lab, "DC2", &filter)?,
        format!("{probe} not on DC2 after drs replicate"),
    )?;
    let dig = sh(
        lab,
        "DC2",
        &format!("dig +short @127.0.0.1 {rec}.{domain} A"),
    )?;
    check(
        dig.trim() == a,
        format!("DC2 answers {rec}: {dig:?}, want {a}"),
    )?;
    eprintln!(
        "DC1 -> DC2 replication of {probe} and {rec} in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // and the other way: made on DC2, replicated to DC1
    let back = format!("WANB{tag}");
    sh(
        lab,
        "DC2",
        &format!("samba-tool computer create {back} -H /var/lib/samba/private/sam.ldb"),
    )?;
    replicate(lab, "DC2", "dc1", "dc2", &base)?;
    check(
        ldb_has(lab, "DC1", &format!("(sAMAccountName={back}$)"))?,
        format!("{back} not on DC1 after drs replicate"),
    )?;
    // the lab's set-up made its hosts' A records on DC1; DC2 has them now
    let exch1 = address(&inv, "EXCH1")?;
    let got = sh(
        lab,
        "DC2",
        &format!("dig +short @127.0.0.1 exch1.{domain} A"),
    )?;
    check(
        got.trim() == exch1.to_string(),
        format!("DC2 answers exch1: {got:?}, want {exch1}"),
    )?;
    Ok(())
}

fn mail_replication(lab: &Lab) -> LabTestResult {
    let inv = Inventory::load(lab.inventory_path())?;
    let exch2 = address(&inv, "EXCH2")?;
    let conf = sh(lab, "EXCH1", "cat /etc/lsyncd-drlab.lua")?;
    check(
        conf.contains(&format!("root@{exch2}")),
        format!("EXCH1's lsyncd does not target {exch2}: {conf}"),
    )?;
    let name = format!("wan-{}.eml", std::process::id());
    let path = format!("/srv/mail/alice/{name}");
    let t0 = Instant::now();
    sh(
        lab,
        "EXCH1",
        &format!(
            "printf 'Subject: wan\\n\\nacross the router\\n' > {path} && chown alice:alice {path}"
        ),
    )?;
    let limit = Duration::from_secs(30);
    loop {
        let (code, _, _) = lab.exec("EXCH2", &["test", "-e", &path])?;
        if code == 0 {
            break;
        }
        if t0.elapsed() > limit {
            let log = sh(lab, "EXCH1", "tail -n 20 /var/log/lsyncd.log").unwrap_or_default();
            return Err(format!("{path} not on EXCH2 after {limit:?}; lsyncd:\n{log}").into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "EXCH1 -> EXCH2 across the router in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let body = sh(lab, "EXCH2", &format!("cat {path}"))?;
    check(body.contains("across the router"), "content")?;
    Ok(())
}

fn secrets(lab: &Lab) -> LabTestResult {
    let values: Vec<String> = lab
        .secrets()
        .values()
        .iter()
        .flat_map(|v| v.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| l.len() >= 12 && !l.starts_with("-----"))
        .collect();
    let mut outputs = vec![
        (
            "inventory".to_string(),
            std::fs::read_to_string(lab.inventory_path())?,
        ),
        (
            "progress".to_string(),
            PROGRESS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .join("\n"),
        ),
    ];
    for h in ["DC1", "DC2"] {
        let c = lab.container(h).ok_or("container")?;
        outputs.push((
            format!("{h} log"),
            docker(&["logs", &c]).unwrap_or_default(),
        ));
        let out = Command::new("docker").args(["logs", &c]).output()?;
        outputs.push((
            format!("{h} stderr log"),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    outputs.push((
        "DC2 join log".into(),
        sh(lab, "DC2", "cat /var/log/samba-provision.log")?,
    ));
    // the router has no secret at all: not even in its environment
    let router = lab.router_container().ok_or("no router")?;
    outputs.push((
        "router env".into(),
        docker(&["inspect", "-f", "{{.Config.Env}}", &router])?,
    ));
    for (what, text) in &outputs {
        for v in &values {
            check(
                !text.contains(v.as_str()),
                format!("a secret in the {what}"),
            )?;
        }
    }
    Ok(())
}

/// A restart (a crash and a power-on) makes the container's network
/// namespace anew; the entrypoint sets the cross-site route again
/// (`DRLAB_ROUTE`), so a drill's crash, its rollback's power-on and the
/// next drill's replication across the router still work.
fn restart(lab: &Lab) -> LabTestResult {
    let inv = Inventory::load(lab.inventory_path())?;
    let (hq, dr) = (site(lab, "hq")?, site(lab, "dr")?);
    let exch2 = address(&inv, "EXCH2")?;
    let c = lab.container("CLIENT1").ok_or("container")?;
    docker(&["restart", "-t", "2", &c])?;
    let t0 = Instant::now();
    while lab.exec("CLIENT1", &["test", "-e", "/run/drlab-ready"])?.0 != 0 {
        if t0.elapsed() > Duration::from_secs(30) {
            return Err("CLIENT1 not ready after its restart".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let get = sh(lab, "CLIENT1", &format!("ip route get {exch2}"))?;
    eprintln!("CLIENT1 after a restart: {}", get.trim());
    check(
        get.contains(&format!("via {} ", hq.router)),
        format!(
            "the route to {} did not come back with the restart: {get}",
            dr.subnet
        ),
    )?;
    sh(
        lab,
        "CLIENT1",
        &format!("timeout 5 bash -c '</dev/tcp/{exch2}/22'"),
    )?;
    Ok(())
}
