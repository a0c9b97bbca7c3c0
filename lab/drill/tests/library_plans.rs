//! The dry-run plan of every library scenario, on an inventory made up for
//! it (every host of the scenario, Linux or Windows): each plan is made
//! without a connection, names no secret, and shows a command for every
//! action. With `DRLAB_PLAN_DUMP=<dir>` the plans are also written there,
//! one file per scenario and dialect (to compare plans across changes).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use drlab_drill::journal::Action;
use drlab_real::inventory::Inventory;
use drlab_scenarios::Scenario;

/// The password the made-up inventory's credentials would hold.
const SECRET: &str = "s3cret-never-shown";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn library() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios/library"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// A lab for every host of `s`: SSH as root, a container, LDAP and DNS on
/// hosts with a role, every Exchange service mapped; Exchange hosts speak
/// `dialect`. The credentials are files in `dir` holding [`SECRET`].
pub fn inventory_for(s: &Scenario, dialect: &str, dir: &Path) -> Inventory {
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let secret = secret.display();
    let mut t = String::new();
    let domain = s
        .domain
        .as_ref()
        .map_or("corp.example.com", |d| d.name.as_str());
    let base = domain
        .split('.')
        .map(|l| format!("DC={l}"))
        .collect::<Vec<_>>()
        .join(",");
    let _ = writeln!(
        t,
        "[lab]\nname = 'made-up'\ndomain = '{domain}'\ndocker_network = 'drlab-made-up-net'\n\
         [credentials]\nadmin = {{ file = '{secret}' }}\nmail = {{ file = '{secret}' }}\n\
         root = {{ file = '{secret}' }}\n"
    );
    for h in &s.hosts {
        let _ = writeln!(
            t,
            "[[hosts]]\nname = '{n}'\naddress = '{ip}'\ncontainer = 'drlab-made-up-{l}'\n\
             ssh = {{ user = 'root', password_credential = 'root' }}",
            n = h.name,
            ip = h.ip,
            l = h.name.to_ascii_lowercase()
        );
        if h.exchange.is_some() {
            let _ = writeln!(t, "dialect = '{dialect}'\nmail_root = '/srv/mail'");
        }
        if !h.roles.is_empty() {
            let _ = writeln!(
                t,
                "roles = ['domain-controller', 'dns']\nldap = {{ url = 'ldap://{ip}', bind = 'Administrator@{up}', password_credential = 'admin', base = '{base}' }}\n\
                 dns = {{ port = 53 }}",
                ip = h.ip,
                up = domain.to_ascii_uppercase()
            );
        }
    }
    let _ = writeln!(t, "[services]");
    if let Some(x) = &s.exchange {
        for svc in &x.services {
            let unit: String = svc
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let _ = writeln!(t, "{} = '{unit}'", svc.name);
        }
    }
    let _ = writeln!(t, "[mail]\npassword_credential = 'mail'");
    Inventory::parse(Path::new("made-up.toml"), &t).unwrap_or_else(|e| panic!("{e}\n{t}"))
}

#[test]
fn every_library_scenario_has_a_plan_with_commands_and_no_secret() {
    let dump = std::env::var_os("DRLAB_PLAN_DUMP").map(PathBuf::from);
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let files = library();
    assert!(
        files.len() >= 24,
        "the library has its 24 scenarios (and lab variants)"
    );
    for path in files {
        let s = drlab_scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for dialect in ["linux", "windows"] {
            let inv = inventory_for(&s, dialect, dir.path());
            let plan = drlab_drill::lab::plan(
                &inv,
                Path::new("made-up.toml"),
                &s,
                Path::new(path.file_name().unwrap()),
                s.scenario.seed,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!plan.contains(SECRET), "{}", path.display());
            // every action shows what it sends, or why it is refused
            for l in drlab_drill::lab::plan_lines(&inv, &s, s.scenario.seed).unwrap() {
                assert!(
                    !l.commands.is_empty()
                        || matches!(l.action, Action::ForceReplication { ref from, ref to } if from == to),
                    "{}: {}",
                    path.display(),
                    l.action
                );
            }
            if let Some(d) = &dump {
                let name = format!(
                    "{}.{dialect}.plan",
                    path.file_stem().unwrap().to_string_lossy()
                );
                std::fs::write(d.join(name), &plan).unwrap();
            }
        }
    }
}
