//! `drlab schema` prints the committed scenario schema on standard output,
//! nothing on standard error, and exits 0.

mod support;
use support::{LAN, drlab, root, stderr};

#[test]
fn schema_prints_the_committed_schema() {
    let o = drlab(&["schema"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    let committed = std::fs::read(root().join("docs/scenario.schema.json")).unwrap();
    assert!(
        o.stdout == committed,
        "drlab schema differs from docs/scenario.schema.json: regenerate it with \
         `cargo run -p drlab -- schema > docs/scenario.schema.json`"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["title"], "drlab scenario");
    assert!(
        v["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "runbook")
    );
    // Every table of the LAN failover is a property of the schema's root.
    let lan: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join(LAN)).unwrap()).unwrap();
    for key in lan.keys() {
        assert!(
            v["properties"].get(key).is_some(),
            "{key} is not in the schema"
        );
    }
}
