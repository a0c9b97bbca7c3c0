//! The JSON Schema of the scenario format, generated from the format's own
//! types (`schemars` derives beside serde's, so the two cannot drift), with
//! the range of every number taken from the one bounds table
//! ([`crate::bounds`]). `drlab schema` prints it and
//! `docs/scenario.schema.json` is a copy a test keeps equal.
//!
//! What the schema cannot say is checked at load time only: references
//! between entries (a client's site, a fault's host), a period's wake-ups
//! against the event budget, and whether a field applies to the runbook or
//! arrival process chosen.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use super::{FaultDef, Scenario, WeightedFault};
use crate::bounds;

/// The regeneration command the schema's tests name.
pub const REGENERATE: &str = "cargo run -p drlab -- schema > docs/scenario.schema.json";

/// Where the schema keeps its definitions (draft 7's `definitions`).
const DEFS: &str = "definitions";

/// The schema of a scenario file, for TOML documents read as JSON (what
/// `taplo` and Even Better TOML do). JSON Schema draft 7, the newest draft
/// editors' TOML tooling reads: taplo documents Draft 4 features, and its
/// validator reads draft 7 too; nothing here needs a later draft (fault
/// entries, which flatten, list their fields per kind instead of relying
/// on `unevaluatedProperties`).
pub fn schema() -> Value {
    let generator = SchemaSettings::draft07().for_deserialize().into_generator();
    let mut root = generator.into_root_schema_for::<Scenario>().to_value();
    if let Some(obj) = root.as_object_mut() {
        obj.insert("title".into(), Value::String("drlab scenario".to_string()));
    }
    bound_numbers(&mut root);
    root
}

/// The schema as the committed file holds it: pretty JSON and a newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema())
        .expect("a schema is a JSON value, which always serialises");
    text.push('\n');
    text
}

/// Puts every number's range from [`bounds`] into the schema: each property
/// whose name has a rule gets that rule's `minimum` and `maximum` (and
/// `multipleOf: 1` for whole numbers held in a real), at its numbers, in its
/// arrays, and in a distribution's parameters (which take [`bounds::for_dist`]
/// of the key that holds them, as [`bounds::check`] does). A definition
/// reached through a bounded key (a distribution) gets a copy per rule,
/// `Dist.s`, `Dist.interval_s`, ...; definitions no longer referenced are
/// dropped.
fn bound_numbers(root: &mut Value) {
    let defs: Map<String, Value> = root
        .get(DEFS)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut bounded: BTreeMap<String, Value> = BTreeMap::new();
    visit(root, &defs, &mut bounded);
    let Some(obj) = root.as_object_mut() else {
        return;
    };
    let all = obj.entry(DEFS).or_insert_with(|| Value::Object(Map::new()));
    if let Some(all) = all.as_object_mut() {
        all.extend(bounded);
    }
    drop_unreferenced(root);
}

/// Walks the subschemas of `v`, bounding the properties that have a rule.
fn visit(v: &mut Value, defs: &Map<String, Value>, bounded: &mut BTreeMap<String, Value>) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    for (kw, sub) in obj.iter_mut() {
        match kw.as_str() {
            "properties" => {
                if let Some(props) = sub.as_object_mut() {
                    for (key, p) in props.iter_mut() {
                        if bounds::for_key(key).is_some() {
                            bound(p, key, false, defs, bounded);
                        } else {
                            visit(p, defs, bounded);
                        }
                    }
                }
            }
            DEFS => {
                if let Some(map) = sub.as_object_mut() {
                    for d in map.values_mut() {
                        visit(d, defs, bounded);
                    }
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Some(list) = sub.as_array_mut() {
                    for s in list {
                        visit(s, defs, bounded);
                    }
                }
            }
            "items" | "additionalProperties" | "unevaluatedProperties" | "not" => {
                visit(sub, defs, bounded)
            }
            _ => {}
        }
    }
}

/// Bounds the numbers of `v`, a subschema stored under `key` (`in_dist`:
/// as a distribution's parameter).
fn bound(
    v: &mut Value,
    key: &str,
    in_dist: bool,
    defs: &Map<String, Value>,
    bounded: &mut BTreeMap<String, Value>,
) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    if let Some(Value::String(r)) = obj.get("$ref").cloned() {
        let Some(name) = r.strip_prefix(&format!("#/{DEFS}/")) else {
            return;
        };
        let Some(rule) = bounds::rule_name(key) else {
            return;
        };
        let copy = format!("{name}.{}", rule.trim_start_matches('_'));
        if !bounded.contains_key(&copy) {
            let Some(mut def) = defs.get(name).cloned() else {
                return;
            };
            bound(&mut def, key, in_dist, defs, bounded);
            bounded.insert(copy.clone(), def);
        }
        obj.insert("$ref".into(), Value::String(format!("#/{DEFS}/{copy}")));
        return;
    }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let numeric = types.iter().any(|t| *t == "number" || *t == "integer");
    let integer_typed = types.contains(&"integer");
    let b = if in_dist {
        bounds::for_dist(key)
    } else {
        bounds::for_key(key)
    };
    if let (true, Some(b)) = (numeric, b) {
        let min = obj
            .get("minimum")
            .and_then(Value::as_f64)
            .map_or(b.min, |m| m.max(b.min));
        let max = obj
            .get("maximum")
            .and_then(Value::as_f64)
            .map_or(b.max, |m| m.min(b.max));
        obj.insert("minimum".into(), number(min));
        obj.insert("maximum".into(), number(max));
        if b.integer && !integer_typed {
            obj.insert("multipleOf".into(), number(1.0));
        }
    }
    for (kw, sub) in obj.iter_mut() {
        match kw.as_str() {
            "properties" => {
                if let Some(props) = sub.as_object_mut() {
                    for p in props.values_mut() {
                        bound(p, key, true, defs, bounded);
                    }
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Some(list) = sub.as_array_mut() {
                    for s in list {
                        bound(s, key, in_dist, defs, bounded);
                    }
                }
            }
            "items" => bound(sub, key, in_dist, defs, bounded),
            _ => {}
        }
    }
}

/// A bound as JSON: whole numbers as integers (`0`, not `0.0`).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// Removes the definitions nothing refers to any more, until none is left.
fn drop_unreferenced(root: &mut Value) {
    loop {
        let mut refs = Vec::new();
        collect_refs(root, &mut refs);
        let Some(defs) = root.get_mut(DEFS).and_then(Value::as_object_mut) else {
            return;
        };
        let unused: Vec<String> = defs
            .keys()
            .filter(|k| !refs.iter().any(|r| r == &format!("#/{DEFS}/{k}")))
            .cloned()
            .collect();
        if unused.is_empty() {
            return;
        }
        for k in unused {
            defs.remove(&k);
        }
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// `MirrorMode` of the interface, as the format spells it (a test checks
/// the names against the interface's deserialiser).
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "MirrorMode")]
#[allow(dead_code)]
pub(crate) enum MirrorModeSchema {
    /// Copy every byte of the replication set.
    Full,
    /// Copy only the blocks that differ.
    Difference,
    /// No mirror: replicate changes from now on.
    None,
}

/// `StartupType` of the interface, as the format spells it.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "StartupType")]
#[allow(dead_code)]
pub(crate) enum StartupTypeSchema {
    /// Started at boot.
    Automatic,
    /// Started only on request.
    Manual,
    /// Never started.
    Disabled,
}

/// Each fault kind's table with the `extra` fields (name, schema, whether
/// required) beside its own, unknown fields refused: what a flattening
/// deserialiser (`FaultDef`, `WeightedFault`) accepts, said in a way every
/// JSON Schema draft checks strictly.
fn fault_kinds_with(generator: &mut SchemaGenerator, extra: &[(&str, Value, bool)]) -> Vec<Value> {
    let mut kinds = super::FaultSpec::json_schema(generator).to_value();
    let variants = kinds
        .get_mut("oneOf")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    assert!(
        !variants.is_empty(),
        "FaultSpec is an internally tagged enum"
    );
    variants
        .into_iter()
        .map(|mut v| {
            let obj = v
                .as_object_mut()
                .expect("each fault kind is an object schema");
            for (k, x, required) in extra {
                if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
                    props.insert((*k).to_string(), x.clone());
                }
                if *required
                    && let Some(req) = obj.get_mut("required").and_then(Value::as_array_mut)
                {
                    req.push((*k).into());
                }
            }
            obj.insert("additionalProperties".into(), Value::Bool(false));
            v
        })
        .collect()
}

/// `[[faults]]`: `at_s` and one fault kind with its fields, or `at_s` and
/// `one_of`, as `FaultDef`'s flattening deserialiser reads them.
impl JsonSchema for FaultDef {
    fn schema_name() -> Cow<'static, str> {
        "FaultDef".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut at_s = generator.subschema_for::<super::Dist>().to_value();
        if let Some(obj) = at_s.as_object_mut() {
            obj.insert(
                "description".into(),
                "Drill time at which the fault takes effect: a number or a distribution.".into(),
            );
        }
        let choices = generator.subschema_for::<Vec<WeightedFault>>().to_value();
        let mut branches = fault_kinds_with(generator, &[("at_s", at_s.clone(), true)]);
        branches.push(serde_json::json!({
            "description": "One of these faults, drawn in proportion to the weights.",
            "type": "object",
            "properties": { "at_s": at_s, "one_of": choices },
            "required": ["at_s", "one_of"],
            "additionalProperties": false
        }));
        json_schema!({
            "description": "`[[faults]]`: one scheduled fault (`kind` with its fields), or a weighted choice of faults (`one_of`).",
            "type": "object",
            "oneOf": branches
        })
    }
}

/// One choice of a `one_of` set: a fault kind with its fields and `weight`.
impl JsonSchema for WeightedFault {
    fn schema_name() -> Cow<'static, str> {
        "WeightedFault".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut weight = generator.subschema_for::<f64>().to_value();
        if let Some(obj) = weight.as_object_mut() {
            obj.insert("description".into(), "Relative weight (default 1).".into());
            obj.insert("default".into(), 1.into());
        }
        json_schema!({
            "description": "One choice of a `one_of` set.",
            "type": "object",
            "oneOf": fault_kinds_with(generator, &[("weight", weight, false)])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the schema-only copies of the interface's enums are the
    /// names the interface deserialises, and all of them.
    #[test]
    fn interface_enum_copies_match_the_interface() {
        use drlab_drivers::types::{MirrorMode, StartupType};
        fn names<T: JsonSchema>() -> Vec<String> {
            let s = schemars::schema_for!(T);
            let mut out = Vec::new();
            for v in s
                .get("oneOf")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = v.get("const").and_then(Value::as_str) {
                    out.push(c.to_string());
                }
                if let Some(e) = v.get("enum").and_then(Value::as_array) {
                    out.extend(e.iter().filter_map(Value::as_str).map(String::from));
                }
            }
            out
        }
        fn expected<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
            let e = serde_json::from_str::<T>("\"no-such-name\"").unwrap_err();
            let m = e.to_string();
            m.split("expected ")
                .nth(1)
                .unwrap_or_default()
                .split([',', ' '])
                .filter(|w| w.starts_with('`'))
                .map(|w| w.trim_matches('`').to_string())
                .collect()
        }
        let mirror = names::<MirrorModeSchema>();
        assert_eq!(mirror, expected::<MirrorMode>());
        assert_eq!(names::<StartupTypeSchema>(), expected::<StartupType>());
        assert_eq!(mirror.len(), 3);
    }
}
