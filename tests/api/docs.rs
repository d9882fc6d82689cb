//! Generated documentation stays in step with the code.

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
