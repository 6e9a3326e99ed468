//! Keeps `src/admin/openapi.json` from drifting away from the code: the routes and methods of
//! the admin API's routers (`src/admin/`), the fields of the structs the admin API reads and
//! writes, and the event kinds of the journal are read from the source text and compared with
//! the document.

use std::collections::BTreeSet;

use serde_json::Value;

const DOC: &str = include_str!("../src/admin/openapi.json");
/// Every file of the namespace's admin API.
const ADMIN_RS: &str = concat!(
    include_str!("../src/admin/router.rs"),
    include_str!("../src/admin/reply.rs"),
    include_str!("../src/admin/health.rs"),
    include_str!("../src/admin/events.rs"),
    include_str!("../src/admin/faults.rs"),
    include_str!("../src/admin/clock.rs"),
    include_str!("../src/admin/fixtures.rs"),
    include_str!("../src/admin/sms.rs"),
    include_str!("../src/admin/certificates.rs"),
);
/// `/__admin/runs` is served in front of the namespaces.
const RUNS_RS: &str = include_str!("../src/admin/runs.rs");
const JOURNAL_RS: &str = concat!(include_str!("../src/journal/event.rs"), include_str!("../src/journal/filter.rs"));
const FAULTS_RS: &str = include_str!("../src/faults.rs");
const CLOCK_RS: &str = include_str!("../src/clock.rs");
const ENDPOINTS_RS: &str = include_str!("../src/endpoints.rs");

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch", "head", "options", "trace"];

fn doc() -> Value {
    serde_json::from_str(DOC).expect("admin/openapi.json is not valid JSON")
}

/// Converts axum path syntax to OpenAPI: `{id}` stays, `:id` and `*rest` become `{id}`/`{rest}`.
fn openapi_path(axum_path: &str) -> String {
    axum_path
        .split('/')
        .map(|seg| {
            if let Some(name) = seg.strip_prefix(':').or_else(|| seg.strip_prefix('*')) {
                format!("{{{name}}}")
            } else if let Some(name) = seg.strip_prefix("{*").and_then(|s| s.strip_suffix('}')) {
                format!("{{{name}}}")
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `(path, methods)` of every `.route("...", ...)` in the admin API's source.
fn admin_routes() -> Vec<(String, BTreeSet<String>)> {
    let mut routes = routes_in(ADMIN_RS);
    routes.extend(routes_in(RUNS_RS));
    routes
}

fn routes_in(source: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut routes = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(\"") {
        rest = &rest[at + ".route(\"".len()..];
        let end = rest.find('"').expect("closing quote of a route path");
        let path = &rest[..end];
        // The method router runs to the `)` that closes `.route(`.
        let mut depth = 1;
        let mut close = end;
        for (i, c) in rest[end..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = end + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let handlers = &rest[end + 1..close];
        let methods: BTreeSet<String> = METHODS
            .iter()
            .filter(|m| {
                handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                    // `get(` or `.get(`, not `forget(`.
                    i == 0 || !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            })
            .map(|m| m.to_string())
            .collect();
        routes.push((openapi_path(path), methods));
    }
    routes
}

/// Field names of `struct name { ... }` in `source` (serde renames are not used by these structs).
fn struct_fields(source: &str, name: &str) -> BTreeSet<String> {
    let start = source.find(&format!("struct {name} {{")).unwrap_or_else(|| panic!("struct {name} not found"));
    let body = &source[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
    fields_of_block(body)
}

/// Fields of a struct body that serde may omit (`skip_serializing_if`).
fn omitted_fields(source: &str, name: &str) -> BTreeSet<String> {
    let start = source.find(&format!("struct {name} {{")).unwrap_or_else(|| panic!("struct {name} not found"));
    let body = &source[start..];
    omittable(&body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()])
}

fn omittable(body: &str) -> BTreeSet<String> {
    let mut skip_next = false;
    let mut out = BTreeSet::new();
    for line in body.lines().map(str::trim) {
        if line.starts_with("#[") {
            skip_next |= line.contains("skip_serializing_if");
        } else if !line.starts_with("//") && !line.is_empty() {
            if skip_next {
                out.extend(fields_of_block(line));
            }
            skip_next = false;
        }
    }
    out
}

fn fields_of_block(body: &str) -> BTreeSet<String> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with("#[") && !l.is_empty())
        .flat_map(top_level_items)
        .filter_map(|l| {
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let (name, _) = l.split_once(':')?;
            let name = name.trim();
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then(|| name.to_owned())
        })
        .collect()
}

/// The comma-separated items of a line (`a: String, b: Vec<String>`), commas inside `<>` kept:
/// rustfmt puts a short struct variant's fields on one line.
fn top_level_items(line: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in line.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(line[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(line[start..].trim());
    items.into_iter().filter(|item| !item.is_empty()).collect()
}

fn schema<'d>(doc: &'d Value, name: &str) -> &'d Value {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "components.schemas.{name} is missing");
    s
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

/// Every `$ref` in the document.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().expect("$ref is a string").to_owned());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn document_is_openapi_3() {
    let doc = doc();
    let version = doc["openapi"].as_str().expect("openapi version string");
    assert!(version.starts_with("3."), "openapi is {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
}

#[test]
fn every_admin_route_and_method_is_documented_and_nothing_else() {
    let doc = doc();
    let paths = doc["paths"].as_object().unwrap();
    let routes = admin_routes();
    assert!(routes.len() >= 9, "the route parser found only {routes:?}");
    for (path, methods) in &routes {
        assert!(!methods.is_empty(), "no method found for {path}");
        let item =
            paths.get(path).unwrap_or_else(|| panic!("the admin API serves {path}, which the OpenAPI document lacks"));
        let documented: BTreeSet<String> =
            item.as_object().unwrap().keys().filter(|k| METHODS.contains(&k.as_str())).cloned().collect();
        assert_eq!(&documented, methods, "methods of {path}");
    }
    for path in paths.keys() {
        assert!(routes.iter().any(|(p, _)| p == path), "the document has {path}, which the admin API does not serve");
    }
}

#[test]
fn operations_are_complete_and_refs_resolve() {
    let doc = doc();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            // Every `{param}` of the path is declared as a required path parameter.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = &seg[1..seg.len() - 1];
                let declared = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true);
                assert!(declared, "{method} {path}: path parameter {name} is not declared");
            }
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "$ref {r} does not resolve");
    }
}

#[test]
fn event_query_parameters_match_event_filter() {
    let doc = doc();
    let params: BTreeSet<String> = doc["paths"]["/__admin/events"]["get"]["parameters"]
        .as_array()
        .expect("GET /__admin/events parameters")
        .iter()
        .map(|p| {
            assert_eq!(p["in"], "query");
            p["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(params, struct_fields(JOURNAL_RS, "EventFilter"));
    let since = doc["paths"]["/__admin/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "since")
        .unwrap();
    assert_eq!(since["schema"]["type"], "integer");
}

#[test]
fn bodies_match_the_structs_the_server_reads_and_writes() {
    let doc = doc();
    let fault_rule = struct_fields(FAULTS_RS, "FaultRule");
    let fault_action = struct_fields(FAULTS_RS, "FaultAction");
    assert!(
        fault_rule.contains("action") && fault_action.contains("drop_connection"),
        "parser: {fault_rule:?} {fault_action:?}"
    );
    assert_eq!(property_names(schema(&doc, "FaultRuleInput")), fault_rule);
    assert_eq!(property_names(schema(&doc, "FaultRule")), fault_rule);
    assert_eq!(property_names(schema(&doc, "FaultActionInput")), fault_action);
    assert_eq!(property_names(schema(&doc, "FaultAction")), fault_action);
    // Armed rules are serialised whole (no field is skipped): every field is required.
    let required = |name: &str| -> BTreeSet<String> {
        schema(&doc, name)["required"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(required("FaultRule"), fault_rule);
    assert_eq!(required("FaultAction"), fault_action);
    assert!(omitted_fields(FAULTS_RS, "FaultRule").is_empty() && omitted_fields(FAULTS_RS, "FaultAction").is_empty());
    // deny_unknown_fields on both structs, so the document must say so too.
    assert_eq!(schema(&doc, "FaultRuleInput")["additionalProperties"], false);
    assert_eq!(schema(&doc, "FaultActionInput")["additionalProperties"], false);
    assert_eq!(schema(&doc, "FaultRuleInput")["required"], serde_json::json!(["action"]));

    let clock_change = struct_fields(CLOCK_RS, "ClockChange");
    assert_eq!(clock_change.len(), 4, "parser: {clock_change:?}");
    assert_eq!(property_names(schema(&doc, "ClockChange")), clock_change);
    assert_eq!(schema(&doc, "ClockChange")["additionalProperties"], false);
    assert_eq!(property_names(schema(&doc, "ClockReading")), struct_fields(CLOCK_RS, "ClockReading"));
    assert_eq!(property_names(schema(&doc, "Endpoints")), struct_fields(ENDPOINTS_RS, "Endpoints"));

    // The request body of POST faults is one rule or an array of them.
    let body = &doc["paths"]["/__admin/faults"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let variants = body["oneOf"].as_array().expect("oneOf");
    assert!(variants.iter().any(|v| v["$ref"] == "#/components/schemas/FaultRuleInput"));
    assert!(variants
        .iter()
        .any(|v| v["type"] == "array" && v["items"]["$ref"] == "#/components/schemas/FaultRuleInput"));
}

#[test]
fn error_schema_matches_the_error_helper() {
    let doc = doc();
    // admin/reply.rs: `json!({"error": code, "message": message.into()})`
    assert!(
        ADMIN_RS.contains(r#"json!({"error": code, "message": message.into()})"#),
        "error() changed: update the Error schema"
    );
    let error = schema(&doc, "Error");
    assert_eq!(property_names(error), ["error", "message"].iter().map(|s| s.to_string()).collect());
    // Every error code the admin API uses is in the enum.
    let codes: BTreeSet<String> = error["properties"]["error"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let mut used = BTreeSet::new();
    for source in [ADMIN_RS, RUNS_RS] {
        let mut rest = source;
        while let Some(at) = rest.find("error(StatusCode::") {
            rest = &rest[at..];
            let quote = rest.find('"').unwrap();
            let code = &rest[quote + 1..];
            used.insert(code[..code.find('"').unwrap()].to_owned());
            rest = &rest[1..];
        }
    }
    assert!(
        RUNS_RS.contains(r#""error": "unknown_run""#),
        "admin/runs.rs no longer answers unknown_run: update the Error schema"
    );
    assert!(used.len() >= 4, "parser found {used:?}");
    for code in &used {
        assert!(codes.contains(code), "the admin API answers error '{code}', which the Error schema does not list");
    }
}

#[test]
fn event_kinds_and_fields_match_the_journal() {
    let doc = doc();
    let enum_start = JOURNAL_RS.find("pub enum EventKind {").expect("EventKind");
    let enum_body = &JOURNAL_RS[enum_start..];
    let enum_body = &enum_body[..enum_body.find("\n}").unwrap()];
    // Each variant: its `rename` and the block (or tuple struct) that holds its fields.
    let mut kinds = BTreeSet::new();
    let mapping =
        doc["components"]["schemas"]["Event"]["discriminator"]["mapping"].as_object().expect("discriminator mapping");
    let base = property_names(schema(&doc, "EventBase"));
    assert_eq!(base, struct_fields(JOURNAL_RS, "Event"));
    let mut rest = enum_body;
    while let Some(at) = rest.find("rename = \"") {
        rest = &rest[at + "rename = \"".len()..];
        let kind = &rest[..rest.find('"').unwrap()];
        kinds.insert(kind.to_owned());
        let after = &rest[rest.find(")]").unwrap() + 2..];
        let line = after.trim_start().lines().next().unwrap();
        let (fields, omitted) =
            if let Some(inner) = line.split_once('(').map(|(_, r)| r.trim_end_matches("),").trim_end_matches(')')) {
                (struct_fields(JOURNAL_RS, inner.trim()), omitted_fields(JOURNAL_RS, inner.trim()))
            } else {
                let block = &after[after.find('{').unwrap() + 1..];
                let block = &block[..block.find('}').unwrap()];
                (fields_of_block(block), omittable(block))
            };
        let target = mapping
            .get(kind)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("event kind {kind} is not in the document"));
        let name = target.rsplit('/').next().unwrap();
        let variant = &schema(&doc, name)["allOf"];
        let own =
            variant.as_array().unwrap().iter().find(|s| s.get("properties").is_some()).expect("variant properties");
        assert_eq!(own["properties"]["kind"]["enum"], serde_json::json!([kind]), "{name}");
        let documented: BTreeSet<String> = property_names(own).into_iter().filter(|f| f != "kind").collect();
        assert_eq!(documented, fields, "fields of {kind}");
        // Fields are always present (Option as null) unless serde skips them: exactly those are required.
        let required: BTreeSet<String> = own["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .filter(|f| f != "kind")
            .collect();
        let always: BTreeSet<String> = fields.difference(&omitted).cloned().collect();
        assert_eq!(required, always, "{kind}: required fields");
    }
    assert!(kinds.len() >= 7, "parser found {kinds:?}");
    let documented: BTreeSet<String> = mapping.keys().cloned().collect();
    assert_eq!(documented, kinds);
    let base_enum: BTreeSet<String> = schema(&doc, "EventBase")["properties"]["kind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(base_enum, kinds);
}
