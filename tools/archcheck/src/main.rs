//! `joblet-archcheck`: the architecture check from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Checks the workspace's module graph: no cycle between files, no edge up
/// the layers of docs/architecture.md, no path into another crate beyond what
/// its `only` lines allow. Exit 0 clean, 1 findings, 2 the check could not run.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The workspace root (the directory of its Cargo.toml).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// The document holding the `layers` blocks, relative to the root.
    #[arg(long, default_value = "docs/architecture.md")]
    doc: PathBuf,
    /// Print the file graph of this package (its directory, e.g. mock-server)
    /// as `from -> to` lines instead of checking.
    #[arg(long, value_name = "PACKAGE")]
    graph: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(clean) => {
            if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("joblet-archcheck: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, joblet_archcheck::Error> {
    if let Some(pkg) = &args.graph {
        let packages = joblet_archcheck::workspace_packages(&args.root)?;
        let package = packages.iter().find(|p| &p.dir == pkg).ok_or_else(|| {
            joblet_archcheck::Error::Workspace(format!("no package `{pkg}` in the workspace"))
        })?;
        let base = args.root.join(&package.dir);
        for root in &package.roots {
            let tree = joblet_archcheck::ModuleTree::load(&base, root)?;
            let graph = joblet_archcheck::FileGraph::build(&tree);
            for &(a, b) in graph.edges.keys() {
                println!(
                    "{} -> {}",
                    graph.files[a].display(),
                    graph.files[b].display()
                );
            }
        }
        return Ok(true);
    }
    let doc_path = args.root.join(&args.doc);
    let doc = match std::fs::read_to_string(&doc_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(joblet_archcheck::Error::Read {
                path: doc_path,
                source,
            });
        }
    };
    let report = joblet_archcheck::check(&args.root, doc.as_deref())?;
    println!("{report}");
    Ok(report.findings.is_empty())
}
