//! The JSON report matches `conformance/schema/report.schema.json`.

use joblet_conformance::report::{JsonReport, SCHEMA};

use crate::support::documented_run;

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

#[test]
fn a_real_report_validates_against_the_schema() {
    let report: serde_json::Value =
        serde_json::from_str(&JsonReport::new(documented_run()).to_json())
            .expect("the report is JSON");
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_schema_rejects_a_broken_report() {
    let mut report: serde_json::Value =
        serde_json::from_str(&JsonReport::new(documented_run()).to_json()).expect("JSON");
    report["outcomes"][0]["state"] = serde_json::json!("maybe");
    assert!(!validator().is_valid(&report));
    let mut report: serde_json::Value =
        serde_json::from_str(&JsonReport::new(documented_run()).to_json()).expect("JSON");
    report["outcomes"][0]["state"] = serde_json::json!("fail"); // a failure without its details
    assert!(!validator().is_valid(&report));
}
