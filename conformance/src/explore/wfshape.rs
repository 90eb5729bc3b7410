//! The jobs and the YAML of the workflows the explorer submits: a small set
//! of dependency graphs ([`Shape`]), in the map form with `requires` or the
//! list form with `depends_on` (WF-YAML-1).

use std::hash::{Hash, Hasher};

use super::call::Cmd;
use super::wfcall::Shape;

/// One job of a generated workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    /// Its name.
    pub name: String,
    /// What it runs.
    pub cmd: Cmd,
    /// Its requirements: (index of the job, status).
    pub requires: Vec<(usize, &'static str)>,
    /// It reads the upload `in.txt`.
    pub upload: bool,
}

/// The jobs of `shape`, named with `tag` (unique to the run and workflow),
/// in an order where every requirement comes first.
pub fn defs(shape: Shape, fail: bool, tag: &str, marker: &str) -> Vec<Def> {
    let echo = |what: &str| Cmd::Echo(format!("{marker}{what}"));
    let def = |base: &str, cmd: Cmd, requires: Vec<(usize, &'static str)>| Def {
        name: format!("{base}_{tag}"),
        cmd,
        requires,
        upload: false,
    };
    const OK: &str = "COMPLETED";
    match shape {
        Shape::Chain => vec![
            def("a", echo("a"), vec![]),
            def(
                "b",
                if fail { Cmd::False } else { echo("b") },
                vec![(0, OK)],
            ),
            def("c", echo("c"), vec![(1, OK)]),
        ],
        Shape::Diamond => vec![
            def("a", if fail { Cmd::False } else { echo("a") }, vec![]),
            def("b", echo("b"), vec![(0, OK)]),
            def("c", Cmd::Sleep(50), vec![(0, OK)]),
            def("d", echo("d"), vec![(1, OK), (2, OK)]),
        ],
        Shape::FailDeps => vec![
            def("bad", Cmd::False, vec![]),
            def("next", echo("next"), vec![(0, OK)]),
            def("last", echo("last"), vec![(1, OK)]),
            def("handler", echo("handler"), vec![(0, "FAILED")]),
            def("aside", echo("aside"), vec![]),
        ],
        Shape::ListForm => vec![
            def("first", echo("first"), vec![]),
            def("second", echo("second"), vec![(0, OK)]),
            def(
                "third",
                if fail { Cmd::False } else { echo("third") },
                vec![(0, OK)],
            ),
        ],
        Shape::Long => vec![
            def("slow", Cmd::Sleep(30_000), vec![]),
            def("after", echo("after"), vec![(0, OK)]),
        ],
        Shape::Upload | Shape::MissingUpload => {
            let mut reader = def("reader", Cmd::Cat(format!("{marker}data\n")), vec![]);
            reader.upload = true;
            vec![reader, def("other", echo("other"), vec![])]
        }
    }
}

/// The YAML of a workflow named `name` with jobs `defs`.
pub fn yaml(name: &str, shape: Shape, defs: &[Def]) -> String {
    let list = shape == Shape::ListForm;
    let mut y = format!("version: \"1.0\"\nname: {name}\njobs:\n");
    for d in defs {
        let (command, args) = d.cmd.command_args();
        let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        let ind = if list {
            y.push_str(&format!("  - name: {}\n", d.name));
            "    "
        } else {
            y.push_str(&format!("  {}:\n", d.name));
            "    "
        };
        y.push_str(&format!("{ind}command: {command:?}\n"));
        y.push_str(&format!("{ind}args: [{}]\n", args.join(", ")));
        if d.upload {
            y.push_str(&format!("{ind}uploads:\n{ind}  files: [\"in.txt\"]\n"));
        }
        if d.requires.is_empty() {
            continue;
        }
        if list {
            let deps: Vec<&str> = d
                .requires
                .iter()
                .map(|(r, _)| defs[*r].name.as_str())
                .collect();
            y.push_str(&format!("{ind}depends_on: [{}]\n", deps.join(", ")));
        } else {
            y.push_str(&format!("{ind}requires:\n"));
            for (r, status) in &d.requires {
                y.push_str(&format!("{ind}  - {}: {status}\n", defs[*r].name));
            }
        }
    }
    y
}

/// What the job names of the run's `k`-th workflow end with: unique to the
/// run and the workflow, so that another workflow's jobs never pass for
/// its own (WF-JOBS-1).
pub fn tag(prefix: &str, k: usize) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (prefix, k).hash(&mut h);
    format!("{k}{:05x}", h.finish() & 0xf_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_wf_yaml_1_map_and_list_forms_name_every_job_and_requirement() {
        let d = defs(Shape::Chain, true, "t", "cf-x-");
        let y = yaml("cf-x-w0", Shape::Chain, &d);
        assert!(y.contains("  b_t:\n    command: \"false\"\n"), "{y}");
        assert!(y.contains("    requires:\n      - b_t: COMPLETED\n"), "{y}");
        let d = defs(Shape::ListForm, false, "t", "cf-x-");
        let y = yaml("cf-x-w1", Shape::ListForm, &d);
        assert!(y.contains("  - name: second_t\n"), "{y}");
        assert!(y.contains("    depends_on: [first_t]\n"), "{y}");
        let d = defs(Shape::MissingUpload, false, "t", "cf-x-");
        let y = yaml("cf-x-w2", Shape::MissingUpload, &d);
        assert!(
            y.contains("    uploads:\n      files: [\"in.txt\"]\n"),
            "{y}"
        );
    }
}
