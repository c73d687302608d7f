//! `cargo xtask synth`: writes the Riv CloudFormation template.

use crate::output::{self, Output};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Instant;

/// Where the template goes unless `--out` says otherwise, under Cargo's target directory.
pub const DEFAULT_OUT: &str = "cfn/riv.template.yaml";

#[derive(clap::Args)]
pub struct Args {
    /// File to write, relative to the workspace root; `-` writes to stdout. Default:
    /// `<target dir>/cfn/riv.template.yaml` (`CARGO_TARGET_DIR`, else `target`).
    #[arg(long)]
    out: Option<String>,
    /// The local stack's template, with the test hooks `InjectFault` and `EndpointUrl` (never deploy it to AWS).
    #[arg(long)]
    local: bool,
    /// Parameter default to bake in, e.g. `--param FaceMatchThreshold=90` (repeatable). Checked against the
    /// parameter's allowed values and range.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

pub fn run(args: &Args, out: Output) -> Result<()> {
    let started = Instant::now();
    let flavor = if args.local {
        riv_infra::stack::Flavor::Local
    } else {
        riv_infra::stack::Flavor::Aws
    };
    let mut template = riv_infra::stack::template(flavor);
    riv_infra::stack::set_defaults(&mut template, &args.params)?;
    let yaml = template
        .to_yaml()
        .context("could not render the template as YAML")?;
    let root = crate::workspace_root()?;
    let path = match args.out.as_deref() {
        Some("-") => {
            print!("{yaml}");
            return Ok(());
        }
        Some(out) => root.join(out),
        None => riv_deploy::build::target_dir(&root).join(DEFAULT_OUT),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    std::fs::write(&path, &yaml).with_context(|| format!("could not write {}", path.display()))?;
    output::done(
        &format!(
            "synthesized {} resources into {}",
            template.resources.len(),
            path.display()
        ),
        started,
    );
    report(out, &path, template.resources.len())
}

fn report(out: Output, path: &PathBuf, resources: usize) -> Result<()> {
    match out {
        Output::Json => println!(
            "{}",
            serde_json::json!({"template": path, "resources": resources})
        ),
        Output::Text => println!("{}", path.display()),
    }
    Ok(())
}
