//! Tests of the CI lab harness against real containers: the lab starts from
//! the locally built image, its inventory maps the scenario's hosts and
//! services, credentials stay in 0600 files and out of every output, the
//! mail hosts are computer accounts in the domain's DNS, the standby waits
//! with its services stopped while the active host replicates to it, and a
//! lab is removed by its label.

#![allow(clippy::print_stderr)]

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drlab_labkit::{Lab, LabOptions, LabTest, LabTestResult, SERVICE_MAP, check, run_lab_tests};
use drlab_real::inventory::Inventory;

/// Every progress line of the lab's start, to check that none leaks a secret.
static PROGRESS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn options() -> LabOptions {
    let dir = std::env::temp_dir().join(format!("drlab-labkit-test-{}", std::process::id()));
    LabOptions::new(dir).with_progress(|line| {
        eprintln!("[lab] {line}");
        PROGRESS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_string());
    })
}

fn main() -> ExitCode {
    run_lab_tests(
        options,
        vec![
            LabTest::new(
                "inventory_maps_the_scenario_hosts_and_services",
                inventory_maps,
            ),
            LabTest::new(
                "secrets_stay_in_0600_files_and_out_of_every_output",
                secrets,
            ),
            LabTest::new("containers_are_labelled_on_a_private_network", containers),
            LabTest::new("mail_hosts_are_computer_accounts_with_dns_records", domain),
            LabTest::new("standby_services_stopped_active_running", services),
            LabTest::new("active_store_replicates_to_the_standby", replication),
            LabTest::new("down_by_name_removes_what_a_lab_made", down_by_label),
        ],
    )
}

/// The kit's `docker` call with its time limit.
fn docker(args: &[&str]) -> Result<String, String> {
    drlab_labkit::docker(args, drlab_labkit::DOCKER_CALL_TIMEOUT_MS)
}

fn inventory_maps(lab: &Lab) -> LabTestResult {
    let inv = Inventory::load(lab.inventory_path())?;
    for h in ["DC1", "EXCH1", "EXCH2", "CLIENT1"] {
        let e = inv.host(h).ok_or(format!("{h} missing"))?;
        check(
            e.container.is_some() && e.ssh.is_some(),
            format!("{h}: container and ssh"),
        )?;
    }
    let mut addrs: Vec<_> = inv.hosts.iter().map(|h| h.address).collect();
    addrs.sort();
    addrs.dedup();
    check(addrs.len() == 4, "four distinct addresses")?;
    check(
        inv.host("DC1").and_then(|h| h.ldap.as_ref()).is_some(),
        "DC1 has LDAP",
    )?;
    check(
        inv.host("EXCH1").and_then(|h| h.mail_root.as_deref()) == Some("/srv/mail"),
        "mail root",
    )?;
    check(
        inv.lab.docker_network.as_deref() == Some(lab.network()),
        "network",
    )?;
    // every Exchange service of the library scenario maps to a lab service
    let scen = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/library/lan-failover.toml"),
    )?;
    let v: toml::Value = toml::from_str(&scen)?;
    let services = v["exchange"]["services"].as_array().ok_or("no services")?;
    for s in services {
        let name = s["name"].as_str().ok_or("service name")?;
        check(
            inv.services.contains_key(name),
            format!("{name} not mapped"),
        )?;
    }
    check(inv.services.len() == SERVICE_MAP.len(), "service count")?;
    eprintln!(
        "inventory:\n{}",
        std::fs::read_to_string(lab.inventory_path())?
    );
    Ok(())
}

/// The parts of every secret worth searching for (a key's base64 lines).
fn needles(lab: &Lab) -> Vec<String> {
    let mut v = Vec::new();
    for s in lab.secrets().values() {
        if s.contains('\n') {
            v.extend(
                s.lines()
                    .filter(|l| l.len() >= 20 && !l.starts_with("-----"))
                    .map(str::to_string),
            );
        } else {
            v.push(s.to_string());
        }
    }
    v
}

fn secrets(lab: &Lab) -> LabTestResult {
    let f = &lab.secrets().files;
    for p in [&f.admin, &f.root, &f.mail, &f.ssh_key] {
        let mode = std::fs::metadata(p)?.permissions().mode() & 0o777;
        check(mode == 0o600, format!("{} has mode {mode:o}", p.display()))?;
    }
    let inventory = std::fs::read_to_string(lab.inventory_path())?;
    let progress = PROGRESS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .join("\n");
    let known = std::fs::read_to_string(lab.out_dir().join("known_hosts"))?;
    let mut logs = String::new();
    for h in ["DC1", "EXCH1", "EXCH2", "CLIENT1"] {
        let c = lab.container(h).ok_or("container")?;
        logs.push_str(&docker(&["logs", &c]).unwrap_or_default());
        let out = Command::new("docker").args(["logs", &c]).output()?;
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let needles = needles(lab);
    check(needles.len() >= 4, "secrets to look for")?;
    for n in &needles {
        for (what, text) in [
            ("inventory", &inventory),
            ("progress output", &progress),
            ("known_hosts", &known),
            ("container logs", &logs),
        ] {
            check(
                !text.contains(n.as_str()),
                format!("a secret appears in the {what}"),
            )?;
        }
    }
    check(
        inventory.contains("[credentials"),
        "inventory names credential sources",
    )?;
    Ok(())
}

fn containers(lab: &Lab) -> LabTestResult {
    for h in ["DC1", "EXCH1", "EXCH2", "CLIENT1"] {
        let c = lab.container(h).ok_or("container")?;
        check(c.starts_with("drlab-"), format!("{c}: drlab- prefix"))?;
        let fmt = "{{index .Config.Labels \"drlab.lab\"}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}},{{end}} {{.HostConfig.PublishAllPorts}} {{.HostConfig.Init}} {{.HostConfig.Privileged}}";
        let line = docker(&["inspect", "-f", fmt, &c])?;
        // the lab's service network and its management network, nothing else
        let networks = format!("drlab-{}-mgmt,{},", lab.name(), lab.network());
        check(
            line.trim() == format!("{} {networks} false true false", lab.name()),
            format!("{c}: labels/network/ports/init/privileged: {line}"),
        )?;
    }
    let net_label = docker(&[
        "network",
        "inspect",
        "-f",
        "{{index .Labels \"drlab.lab\"}}",
        lab.network(),
    ])?;
    check(net_label.trim() == lab.name(), "network label")?;
    // the management network routes nowhere beyond the lab and this machine
    let mgmt = format!("drlab-{}-mgmt", lab.name());
    let mgmt_info = docker(&[
        "network",
        "inspect",
        "-f",
        "{{index .Labels \"drlab.lab\"}} {{.Internal}}",
        &mgmt,
    ])?;
    check(
        mgmt_info.trim() == format!("{} true", lab.name()),
        format!("management network {mgmt}: {mgmt_info}"),
    )?;
    Ok(())
}

fn domain(lab: &Lab) -> LabTestResult {
    let (code, out, err) = lab.exec(
        "DC1",
        &[
            "samba-tool",
            "computer",
            "list",
            "-H",
            "/var/lib/samba/private/sam.ldb",
        ],
    )?;
    check(code == 0, format!("computer list: {err}"))?;
    for c in ["EXCH1$", "EXCH2$"] {
        check(
            out.lines().any(|l| l.trim().eq_ignore_ascii_case(c)),
            format!("{c} not in {out}"),
        )?;
    }
    let inv = lab.inventory();
    for h in ["EXCH1", "EXCH2"] {
        let want = inv.host(h).ok_or("host")?.address.to_string();
        let name = format!("{}.{}", h.to_lowercase(), inv.lab.domain);
        // the client resolves through the DC (its DNS server), as users do
        let (code, out, _) = lab.exec("CLIENT1", &["getent", "hosts", &name])?;
        check(
            code == 0 && out.contains(&want),
            format!("{name} -> {out:?}, want {want}"),
        )?;
    }
    Ok(())
}

fn services(lab: &Lab) -> LabTestResult {
    let (_, active, _) = lab.exec("EXCH1", &["drlab-svc", "list"])?;
    let (_, standby, _) = lab.exec("EXCH2", &["drlab-svc", "list"])?;
    for (_, svc) in SERVICE_MAP {
        check(
            active
                .lines()
                .any(|l| l == format!("{svc} running startup=automatic")),
            format!("EXCH1 {svc}: {active}"),
        )?;
        check(
            standby
                .lines()
                .any(|l| l == format!("{svc} stopped startup=manual")),
            format!("EXCH2 {svc}: {standby}"),
        )?;
    }
    Ok(())
}

fn replication(lab: &Lab) -> LabTestResult {
    let file = format!("/srv/mail/alice/labkit-{}", std::process::id());
    let (code, _, err) = lab.exec("EXCH1", &["sh", "-c", &format!("echo replicated > {file}")])?;
    check(code == 0, err)?;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if lab.exec("EXCH2", &["test", "-s", &file])?.0 == 0 {
            eprintln!("replicated to EXCH2 in {:.1} s", t0.elapsed().as_secs_f64());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err("the file did not reach EXCH2 within 20 s".into())
}

fn down_by_label(lab: &Lab) -> LabTestResult {
    // a stand-in lab made by hand with the same labels: a network and a container
    let name = format!("labkit-down-{}", std::process::id());
    let label = format!("drlab.lab={name}");
    let net = format!("drlab-{name}-net");
    docker(&["network", "create", "--label", &label, &net])?;
    docker(&[
        "create",
        "--name",
        &format!("drlab-{name}-x"),
        "--label",
        &label,
        "--network",
        &net,
        lab.image(),
        "sleep",
        "60",
    ])?;
    let r = drlab_labkit::down_by_name(&name)?;
    check(r.containers == 1 && r.networks == 1, format!("{r:?}"))?;
    let left = docker(&["ps", "-aq", "--filter", &format!("label={label}")])?;
    check(left.trim().is_empty(), "containers left")?;
    // the shared lab is untouched
    check(
        docker(&["network", "inspect", lab.network()]).is_ok(),
        "the real lab's network",
    )?;
    Ok(())
}
