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
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("RIV_COMMIT"), ")"),
    after_long_help = "Exit codes: 0 success, 1 failure, 2 usage error, 3 changes found (drift, fleet plan, fleet drift).\n\n\
Examples:\n  cargo xtask local up                          # the whole system on this machine\n  \
cargo xtask deploy --region eu-west-1          # one stack on AWS, reviewed before it changes\n  \
cargo xtask --output json outputs --region eu-west-1"
)]
struct Cli {
    /// `text` for people (progress on stderr, results on stdout); `json` prints one JSON document on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// On failure, print the whole error chain and its backtrace (also with RUST_BACKTRACE=1).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build every Lambda function as a `bootstrap` for provided.al2023, zipped reproducibly into
    /// target/lambda/bootstrap.zip (one binary serving every function), with target/lambda/manifest.json.
    #[command(
        after_long_help = "Examples:\n  cargo xtask build --release                  # what deploy ships (x86_64)\n  cargo xtask build --release --arch arm64\n  cargo xtask --output json build --release   # the manifest as JSON"
    )]
    Build(build::Args),
    /// Synthesize the Riv CloudFormation template (default: target/cfn/riv.template.yaml).
    #[command(
        after_long_help = "Examples:\n  cargo xtask synth                              # target/cfn/riv.template.yaml\n  cargo xtask synth --local --out -             # the local stack's template on stdout\n  cargo xtask --output json synth --param KmsKey=create"
    )]
    Synth(synth::Args),
    /// Build, upload and deploy the stack to a region through a reviewed change set, streaming its events.
    #[command(
        after_long_help = "Examples:\n  cargo xtask deploy --region eu-west-1          # review the change set, then confirm\n  cargo xtask deploy --region eu-west-1 --endpoint-url http://127.0.0.1:4566 --yes   # a local stack\n  cargo xtask --output json deploy --region eu-west-1 --param KmsKey=create --yes"
    )]
    Deploy(deploy::DeployArgs),
    /// Every region's stack at once, as the fleet file (riv.fleet.yaml, or --fleet) describes them.
    #[command(
        subcommand,
        after_long_help = "Examples:\n  cargo xtask fleet plan                         # what every region's deploy would change (exit 3 if any)\n  cargo xtask fleet deploy --yes --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json fleet status"
    )]
    Fleet(fleet::Command),
    /// Compare a deployed stack with its template: CloudFormation's drift detection where the endpoint has it,
    /// and Riv's own checks everywhere (bucket encryption, versioning, public-access block, TLS-only policy and
    /// lifecycle; table PITR and encryption; each function's code, environment and role; state machine
    /// definitions; the stage's throttling). Prints every difference and exits 3 on drift; `deploy` puts
    /// the template's values back.
    #[command(
        after_long_help = "Examples:\n  cargo xtask drift --region eu-west-1           # exit 3 when something differs\n  cargo xtask drift --region us-east-1 --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json drift --region eu-west-1"
    )]
    Drift(deploy::Where),
    /// Print a deployed stack's outputs.
    #[command(
        after_long_help = "Examples:\n  cargo xtask outputs --region eu-west-1\n  cargo xtask outputs --region us-east-1 --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json outputs --region eu-west-1 --stack Riv-Prod"
    )]
    Outputs(deploy::Where),
    /// Remove a stack completely: empty its image bucket (every version), delete the stack, then the bucket and
    /// any collection left. Already gone is success.
    #[command(
        after_long_help = "Examples:\n  cargo xtask destroy --region eu-west-1         # asks first\n  cargo xtask destroy --region us-east-1 --endpoint-url http://127.0.0.1:4566 --yes\n  cargo xtask --output json destroy --region eu-west-1 --yes"
    )]
    Destroy(deploy::DestroyArgs),
    /// Find what deleted Riv stacks left behind (retained image buckets, collections, unreferenced artifacts,
    /// log groups), show it with sizes and ages, and delete it on confirmation.
    #[command(
        after_long_help = "Examples:\n  cargo xtask cleanup --all-regions --dry-run   # what old stacks left, with sizes and ages\n  cargo xtask cleanup --regions us-east-1 --endpoint-url http://127.0.0.1:4566 --yes\n  cargo xtask --output json cleanup --all-regions --dry-run"
    )]
    Cleanup(cleanup::Args),
    /// Check a stack's data invariants (every live record ↔ one face ↔ one image; nothing without a record; no
    /// unfinished attempt past its expiry), show what breaks them, and fix it on confirmation.
    #[command(
        after_long_help = "Examples:\n  cargo xtask reconcile --region eu-west-1 --dry-run\n  cargo xtask reconcile --region us-east-1 --endpoint-url http://127.0.0.1:4566 --yes\n  cargo xtask --output json reconcile --region eu-west-1 --dry-run"
    )]
    Reconcile(reconcile::Args),
    /// Run Riv offline on this machine: LocalStack (a host process, or a container with --backend container)
    /// plus our Rekognition/Textract emulator, with the stack deployed into it.
    #[command(
        subcommand,
        after_long_help = "Examples:\n  cargo xtask local up                           # LocalStack on 127.0.0.1:4566 with the stack deployed\n  cargo xtask local up --port 4599 --backend container\n  cargo xtask --output json local status"
    )]
    Local(local::Command),
    /// Run every end-to-end scenario against a local stack (started for the run, or --endpoint-url) and print a
    /// summary; exits non-zero when any fails.
    #[command(
        after_long_help = "Examples:\n  cargo xtask e2e                                # starts a local stack for the run\n  cargo xtask e2e --endpoint-url http://127.0.0.1:4566 --filter auth\n  cargo xtask --output json e2e --backend container"
    )]
    E2e(e2e::Args),
    /// Container images for the container backend.
    #[command(
        subcommand,
        after_long_help = "Examples:\n  cargo xtask image localstack                   # build the offline LocalStack image"
    )]
    Image(image::Command),
    /// Regenerate the emulator's model tables (localstack/emulator/src/model/generated.rs) from botocore's
    /// Rekognition and Textract models in the LocalStack venv; `--check` only compares and fails when stale.
    #[command(
        after_long_help = "Examples:\n  cargo xtask codegen                            # rewrite the emulator's model tables\n  cargo xtask codegen --check                    # fail when they are stale"
    )]
    Codegen(codegen::Args),
    /// Speed figures (printed, not asserted).
    #[command(
        subcommand,
        after_long_help = "Examples:\n  cargo xtask bench flows --concurrency 1,8      # against a local stack it starts\n  RIV_ENDPOINT_URL=http://127.0.0.1:4566 cargo xtask bench flows   # an existing local stack\n  cargo xtask --output json bench teardown --objects 10000"
    )]
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
    output::init(cli.output);
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
        Err(error) => match error.downcast_ref::<output::ChangesFound>() {
            Some(changes) => {
                eprintln!("{changes}");
                std::process::ExitCode::from(output::exit::CHANGES_FOUND)
            }
            None => {
                output::report_error(&error, cli.verbose);
                std::process::ExitCode::from(output::exit::FAILURE)
            }
        },
    }
}
