//! `cargo xtask image localstack`: the container backend's LocalStack image, built without any registry.

use crate::output::{self, Output};
use anyhow::Result;
use riv_launcher::Paths;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Build the LocalStack image the container backend runs: a Debian trixie root file system (debootstrap, from
    /// the mirror apt uses here), localstack-core 4.14.0 with Riv's pins and extension, `docker import`ed. Tagged
    /// by the hash of its inputs, so a second run reuses it. Needs root and a Docker daemon (DOCKER_HOST).
    Localstack(LocalstackArgs),
}

#[derive(clap::Args)]
pub struct LocalstackArgs {
    /// Debian mirror for debootstrap (default: the one in /etc/apt/sources*).
    #[arg(long)]
    mirror: Option<String>,
    /// Instead, layer the extension on the official localstack/localstack:4.14.0 (pulls it: needs internet).
    #[arg(long)]
    from_official: bool,
}

pub fn run(command: Command, out: Output) -> Result<()> {
    let Command::Localstack(args) = command;
    let paths = Paths::new(&crate::workspace_root()?);
    let built = if args.from_official {
        riv_launcher::image::build_from_official(&paths, &|m| output::step(m))?
    } else {
        riv_launcher::image::build(&paths, args.mirror.as_deref(), &|m| output::step(m))?
    };
    match out {
        Output::Json => println!("{}", serde_json::to_string(&built)?),
        Output::Text => println!(
            "{} {} ({:.0} MB) in {:.1} s",
            built.image,
            if built.reused { "reused" } else { "built" },
            built.size_bytes as f64 / 1e6,
            built.seconds
        ),
    }
    Ok(())
}
