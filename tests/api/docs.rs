//! Generated documentation stays in step with the code.

use reqwest::Method;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(openapi_is_served_without_credentials);

/// `GET /v1/openapi.json` answers the committed document, to anyone.
async fn openapi_is_served_without_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.call(Method::GET, "/v1/openapi.json", None, None).await.expect(200);
    assert_eq!(resp.content_type(), "application/json");
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    assert!(
        resp.text == committed,
        "the served document differs from docs/openapi.json"
    );
    assert_eq!(resp.body["info"]["title"], "rolegate");
}

#[test]
fn permissions_doc_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/permissions.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = rolegate::authz::routes::permissions_markdown();
    assert!(
        committed == generated,
        "docs/permissions.md is stale: run `cargo run -- permissions-doc > docs/permissions.md`"
    );
}

/// The order and event tables in docs/ are the ones `src/kinds.rs` renders, and every kind
/// has its row.
#[test]
fn kind_tables_are_up_to_date() {
    for (file, name, content) in rolegate::kinds::doc_sections() {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            committed.contains(&format!("<!-- generated: {name} ")),
            "{file} has no generated section {name}"
        );
        assert!(
            rolegate::kinds::render_sections(file, &committed) == committed,
            "{file} is stale: run `cargo run -- docs`"
        );
        assert!(committed.contains(&content));
    }
    let orders = rolegate::kinds::orders_markdown();
    for kind in rolegate::kinds::OrderKind::ALL {
        // The platform's table lists exactly the platform's orders: mail never reaches it.
        let platform = kind.channel() == rolegate::kinds::Channel::Platform;
        assert_eq!(orders.contains(&format!("| `{}` |", kind.as_str())), platform);
    }
    let events = rolegate::kinds::events_markdown();
    for kind in rolegate::kinds::EventKind::ALL {
        assert!(events.contains(&format!("| `{}` |", kind.as_str())));
    }
}

#[test]
fn openapi_doc_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == *rolegate::api::openapi::DOCUMENT,
        "docs/openapi.json is stale: run `cargo run -- openapi > docs/openapi.json`"
    );
}

/// Every route of the table is in the document exactly once, with the table's summary and
/// permission, a success response and the problem responses its access implies; every
/// `$ref` resolves.
#[test]
fn openapi_describes_every_route() {
    use rolegate::authz::routes::{Access, ROUTES};
    use serde_json::Value;

    let doc: Value = serde_json::from_str(&rolegate::api::openapi::DOCUMENT).expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            operations.insert((method.to_uppercase(), path.clone()));
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
        }
    }
    let routes: std::collections::BTreeSet<_> = ROUTES
        .iter()
        .map(|r| (r.verb.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(
        operations, routes,
        "the document and the route table list different operations"
    );

    for route in ROUTES {
        let op = &doc["paths"][route.path][route.verb.as_str().to_lowercase()];
        let what = format!("{} {}", route.verb.as_str(), route.path);
        assert_eq!(op["summary"], route.summary, "{what}");
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{what} documents no success response"
        );
        let permission = route.access.permission().map(|p| p.as_str());
        assert_eq!(op["x-rolegate-permission"].as_str(), permission, "{what}");
        let expect = |status: &str, present: bool| {
            assert_eq!(responses.contains_key(status), present, "{what}: response {status}");
        };
        match route.access {
            Access::App(_) | Access::AppOrSelf(_) => {
                expect("401", true);
                expect("403", true);
                expect("404", true);
                assert_eq!(op["security"][0]["bearer"], serde_json::json!([]), "{what}");
            }
            Access::User | Access::AnyToken => expect("401", true),
            Access::Basic => assert_eq!(op["security"][0]["basic"], serde_json::json!([]), "{what}"),
            Access::Platform => assert_eq!(op["security"][0]["platform"], serde_json::json!([]), "{what}"),
            // Public operations say so: an empty list, not an omission.
            Access::Public => assert_eq!(op["security"], serde_json::json!([]), "{what}"),
        }
    }

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let pointer = r.strip_prefix('#').expect("local $ref");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

/// What generated clients and linters need beyond a valid document: list wrappers refer to
/// their item's schema, closed sets are enums (or a `$ref` to one), `servers` and the
/// license's SPDX identifier are there, and every component is used.
#[test]
fn openapi_is_precise_enough_for_generated_clients() {
    use serde_json::{Value, json};

    let doc: Value = serde_json::from_str(&rolegate::api::openapi::DOCUMENT).expect("the document is JSON");
    assert_eq!(doc["info"]["license"]["identifier"], env!("CARGO_PKG_LICENSE"));
    assert!(doc["servers"][0]["url"].as_str().is_some_and(|u| u.starts_with("http")));

    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let wrappers: Vec<_> = schemas.keys().filter(|k| k.starts_with("Items_")).collect();
    assert!(wrappers.len() > 5, "{wrappers:?}");
    for name in wrappers {
        let item = name.trim_start_matches("Items_");
        assert_eq!(
            schemas[name]["properties"]["items"]["items"],
            json!({ "$ref": format!("#/components/schemas/{item}") }),
            "{name} inlines its item"
        );
    }

    let closed: &[(&str, &str, &[&str])] = &[
        (
            "Deployment",
            "status",
            &["queued", "success", "crashed-error", "aborted"],
        ),
        ("Deployment", "kind", &["deploy", "redeploy"]),
        (
            "Invitation",
            "status",
            &["pending", "accepted", "declined", "revoked", "expired"],
        ),
        ("Collaborator", "status", &["accepted", "expired"]),
        ("Addon", "status", &["provisioning", "running", "updating"]),
        ("Applied", "action", &["remove", "set_role"]),
        ("Health", "status", &["ok", "unavailable"]),
        ("Health", "store", &["postgres", "sqlite"]),
    ];
    for (schema, property, values) in closed {
        let field = &schemas[*schema]["properties"][*property];
        let listed = field["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.{property} is not an enum: {field}"));
        for value in *values {
            assert!(listed.contains(&json!(value)), "{schema}.{property} lacks {value}");
        }
    }
    let role = &doc["paths"]["/v1/roles/{role}"]["get"]["parameters"][0];
    assert_eq!(role["name"], "role");
    assert_eq!(role["schema"], json!({ "$ref": "#/components/schemas/Role" }));

    // Every component is reached from the paths (directly or through other components).
    let text = rolegate::api::openapi::DOCUMENT.as_str();
    for kind in ["schemas", "responses", "securitySchemes"] {
        for name in doc["components"][kind].as_object().expect("components").keys() {
            let used = if kind == "securitySchemes" {
                doc["paths"].to_string().contains(&format!("\"{name}\":["))
            } else {
                text.contains(&format!("\"#/components/{kind}/{name}\""))
            };
            assert!(used, "components.{kind}.{name} is not used");
        }
    }
}
