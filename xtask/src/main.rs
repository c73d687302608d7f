//! `cargo xtask`: the command line Riv's users run. It parses and dispatches; each command is one module.

mod bench;
mod build;
mod cleanup;
mod codegen;
mod deploy;
mod e2e;
mod fleet;
mod image;
mod local;
mod output;
mod reconcile;
mod synth;

use clap::{Parser, Subcommand};
use output::Output;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, synthesize, deploy and emulate Riv, the identity-verification system",
    version
)]
struct Cli {
    /// `text` for people (progress on stderr, results on stdout); `json` prints one JSON document on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build every Lambda function as a `bootstrap` for provided.al2023, zipped reproducibly into
    /// target/lambda/bootstrap.zip (one binary serving every function), with target/lambda/manifest.json.
    Build(build::Args),
    /// Synthesize the Riv CloudFormation template (default: target/cfn/riv.template.yaml).
    Synth(synth::Args),
    /// Build, upload and deploy the stack to a region through a reviewed change set, streaming its events.
    Deploy(deploy::DeployArgs),
    /// Every region's stack at once, as the fleet file (riv.fleet.yaml, or --fleet) describes them.
    #[command(subcommand)]
    Fleet(fleet::Command),
    /// Compare a deployed stack with its template: CloudFormation's drift detection where the endpoint has it,
    /// and Riv's own checks everywhere (bucket encryption, versioning, public-access block, TLS-only policy and
    /// lifecycle; table PITR and encryption; each function's code, environment and role; state machine
    /// definitions; the stage's throttling). Prints every difference and exits non-zero on drift; `deploy` puts
    /// the template's values back.
    Drift(deploy::Where),
    /// Print a deployed stack's outputs.
    Outputs(deploy::Where),
    /// Remove a stack completely: empty its image bucket (every version), delete the stack, then the bucket and
    /// any collection left. Already gone is success.
    Destroy(deploy::DestroyArgs),
    /// Find what deleted Riv stacks left behind (retained image buckets, collections, unreferenced artifacts,
    /// log groups), show it with sizes and ages, and delete it on confirmation.
    Cleanup(cleanup::Args),
    /// Check a stack's data invariants (every live record ↔ one face ↔ one image; nothing without a record; no
    /// unfinished attempt past its expiry), show what breaks them, and fix it on confirmation.
    Reconcile(reconcile::Args),
    /// Run Riv offline on this machine: LocalStack (a host process, or a container with --backend container)
    /// plus our Rekognition/Textract emulator, with the stack deployed into it.
    #[command(subcommand)]
    Local(local::Command),
    /// Run every end-to-end scenario against a local stack (started for the run, or --endpoint-url) and print a
    /// summary; exits non-zero when any fails.
    E2e(e2e::Args),
    /// Container images for the container backend.
    #[command(subcommand)]
    Image(image::Command),
    /// Regenerate the emulator's model tables (localstack/emulator/src/model/generated.rs) from botocore's
    /// Rekognition and Textract models in the LocalStack venv; `--check` only compares and fails when stale.
    Codegen(codegen::Args),
    /// Speed figures (printed, not asserted).
    #[command(subcommand)]
    Bench(bench::Command),
}

/// The workspace this xtask belongs to.
pub fn workspace_root() -> anyhow::Result<std::path::PathBuf> {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("xtask is not inside the workspace"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(&args, cli.output),
        Command::Synth(args) => synth::run(&args, cli.output),
        Command::Local(command) => local::run(command, cli.output),
        Command::Deploy(args) => deploy::deploy(&args, cli.output),
        Command::Outputs(args) => deploy::outputs(&args, cli.output),
        Command::Drift(args) => fleet::drift_one(&args, cli.output),
        Command::Fleet(command) => fleet::run(command, cli.output),
        Command::Destroy(args) => deploy::destroy(&args, cli.output),
        Command::Cleanup(args) => cleanup::run(&args, cli.output),
        Command::Reconcile(args) => reconcile::run(&args, cli.output),
        Command::E2e(args) => e2e::run(&args, cli.output),
        Command::Image(command) => image::run(command, cli.output),
        Command::Bench(command) => bench::run(command, cli.output),
        Command::Codegen(args) => workspace_root().and_then(|root| codegen::run(&args, &root)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
