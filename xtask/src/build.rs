//! `cargo xtask build`: the functions as reproducible bootstrap zips (see `riv_deploy::build`).

use crate::output::{self, Output};
use anyhow::Result;
use riv_deploy::build::{Arch, Profile};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Build with the release profile (stripped, size-optimised): what you deploy.
    #[arg(long)]
    release: bool,
    /// Lambda architecture to build for.
    #[arg(long, value_enum, default_value_t = ArchArg::X86_64)]
    arch: ArchArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ArchArg {
    #[value(name = "x86_64")]
    X86_64,
    Arm64,
}

pub fn run(args: &Args, out: Output) -> Result<()> {
    let started = Instant::now();
    let arch = match args.arch {
        ArchArg::X86_64 => Arch::X86_64,
        ArchArg::Arm64 => Arch::Arm64,
    };
    let root = crate::workspace_root()?;
    let profile = if args.release {
        Profile::Release
    } else {
        Profile::Debug
    };
    let manifest = riv_deploy::build::build(&root, arch, profile, &|m| output::step(m))?;
    output::done("built and packaged", started);
    match out {
        Output::Json => println!("{}", serde_json::to_string(&manifest)?),
        Output::Text => println!("{}", riv_deploy::build::Manifest::path(&root).display()),
    }
    Ok(())
}
