//! The scenario format's JSON Schema: the committed copy is the generated
//! one, every library scenario validates against it, and wrong types,
//! unknown fields and numbers out of their bounds are refused by it as they
//! are by the loader.

use std::path::{Path, PathBuf};

use drlab_scenarios::format::schema::{REGENERATE, schema, schema_text};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("the generated schema compiles")
}

/// A TOML document as the JSON value an editor's schema check sees.
fn json_of(toml_text: &str) -> Value {
    let doc: toml::Table = toml::from_str(toml_text).expect("valid TOML");
    serde_json::to_value(doc).expect("TOML values are JSON values")
}

fn library() -> Vec<(PathBuf, String)> {
    let dir = root().join("scenarios/library");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the library has scenarios: {files:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable scenario");
            (p, text)
        })
        .collect()
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = root().join("docs/scenario.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == schema_text(),
        "{} differs from the schema the format's types generate; regenerate it with `{REGENERATE}`",
        path.display()
    );
}

#[test]
fn the_schema_is_a_valid_draft_7_schema() {
    let s = schema();
    assert_eq!(
        s["$schema"], "http://json-schema.org/draft-07/schema#",
        "{s}"
    );
    jsonschema::meta::validate(&s).expect("the schema is valid against its meta-schema");
}

#[test]
fn every_library_scenario_validates() {
    let v = validator();
    let mut bad = Vec::new();
    for (path, text) in library() {
        // The loader accepts it, and so must the schema.
        if let Err(e) = drlab_scenarios::parse(&path, &text) {
            bad.push(format!("the loader refuses it: {e}"));
        }
        let errs = errors(&v, &json_of(&text));
        if !errs.is_empty() {
            bad.push(format!("{}:\n  {}", path.display(), errs.join("\n  ")));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// What a mutation does, how it changes the document, and where the
/// schema must report it.
type Mutation = (&'static str, fn(&mut Value), &'static str);

/// Mutations of a library scenario that the loader refuses and the schema
/// must refuse too, each at the path it names.
#[test]
fn wrong_types_unknown_fields_and_out_of_bounds_numbers_are_refused() {
    let v = validator();
    let text = std::fs::read_to_string(root().join("scenarios/library/wan-failover.toml"))
        .expect("the WAN failover scenario");
    let base = json_of(&text);
    assert!(errors(&v, &base).is_empty());
    let cases: [Mutation; 9] = [
        (
            "an unknown client profile",
            |d| d["clients"][0]["profile"] = "netscape".into(),
            "/clients/0",
        ),
        (
            "a profile beside an explicit resolver policy",
            |d| {
                d["clients"][0]["profile"] = "windows".into();
                d["clients"][0]["resolver"] = "min-ttl".into();
            },
            "/clients/0",
        ),
        (
            "a string for a duration",
            |d| d["policy"]["heartbeat_interval_s"] = "five".into(),
            "/policy/heartbeat_interval_s",
        ),
        (
            "an unknown field",
            |d| d["objectives"]["rto_minutes"] = 5.into(),
            "/objectives",
        ),
        (
            "a period below the bounds table's 1 ms",
            |d| d["policy"]["heartbeat_interval_s"] = 1e-9.into(),
            "/policy/heartbeat_interval_s",
        ),
        (
            "a loss above 1",
            |d| d["links"][0]["loss"] = 1.5.into(),
            "/links/0/loss",
        ),
        (
            "a distribution parameter beyond the longest duration",
            |d| d["timing"]["store_mount_s"] = serde_json::json!({ "uniform": [1, 1e300] }),
            "/timing/store_mount_s",
        ),
        (
            "an unknown field in a fault entry (which flattens its kind)",
            |d| d["faults"][0]["hots"] = "EXCH1".into(),
            "/faults/0",
        ),
        (
            "an unknown runbook",
            |d| d["runbook"]["name"] = "no-such-runbook".into(),
            "/runbook",
        ),
    ];
    for (what, mutate, at) in cases {
        let mut doc = base.clone();
        mutate(&mut doc);
        let errs = errors(&v, &doc);
        assert!(
            errs.iter().any(|e| e.starts_with(at)),
            "{what}: expected an error at {at}, got {errs:?}"
        );
        // The loader refuses the same document.
        let toml_text = toml::to_string(&doc).expect("JSON without nulls is TOML");
        assert!(
            drlab_scenarios::parse(Path::new("mutated.toml"), &toml_text).is_err(),
            "{what}: the loader accepted it"
        );
    }
}

/// A weighted choice of faults (no library scenario has one) is accepted
/// by both, and a `one_of` entry with another field is refused by both.
#[test]
fn a_weighted_choice_of_faults() {
    let v = validator();
    let text = std::fs::read_to_string(root().join("scenarios/library/wan-failover.toml"))
        .expect("the WAN failover scenario");
    let mut doc = json_of(&text);
    doc["faults"][0] = serde_json::json!({
        "at_s": { "uniform": [100, 140] },
        "one_of": [
            { "kind": "crash-host", "host": "EXCH1", "weight": 3 },
            { "kind": "kill-service", "host": "EXCH1", "service": "MSExchangeIS" }
        ]
    });
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    let toml_text = toml::to_string(&doc).expect("TOML");
    drlab_scenarios::parse(Path::new("one-of.toml"), &toml_text).unwrap_or_else(|e| panic!("{e}"));
    for bad in [
        serde_json::json!({ "at_s": 1, "one_of": [], "host": "EXCH1" }),
        serde_json::json!({ "at_s": 1, "one_of": [{ "kind": "crash-host", "host": "EXCH1", "wieght": 3 }] }),
    ] {
        let mut d = doc.clone();
        d["faults"][0] = bad.clone();
        assert!(!errors(&v, &d).is_empty(), "the schema accepted {bad}");
        let toml_text = toml::to_string(&d).expect("TOML");
        assert!(
            drlab_scenarios::parse(Path::new("one-of.toml"), &toml_text).is_err(),
            "the loader accepted {bad}"
        );
    }
}
