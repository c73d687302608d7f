//! Every Riv function: one binary, which serves the function named by `RIV_FUNCTION` (see `riv_lambda::wiring`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    riv_lambda::runtime::init_tracing();
    riv_lambda::wiring::run_from_env().await
}
