//! Load and timing figures for `cargo xtask bench`: flow latencies through the local API, and how long the local
//! stack takes to come up. Bounded in requests and time; figures are printed, never asserted.

use crate::{photo, stack, unique, Stack};
use riv_domain::names::route;
use riv_emulator::testimage::Case;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Latency figures of one flow.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    pub flow: String,
    /// Clients sending at once.
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Hard ceiling on requests per phase, whatever the duration asks.
pub const MAX_REQUESTS: usize = 20_000;

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn figures(
    flow: &str,
    clients: usize,
    mut latencies: Vec<f64>,
    errors: usize,
    elapsed: Duration,
) -> Figures {
    latencies.sort_by(f64::total_cmp);
    let seconds = elapsed.as_secs_f64();
    Figures {
        flow: flow.into(),
        clients,
        requests: latencies.len(),
        errors,
        seconds,
        per_second: latencies.len() as f64 / seconds.max(1e-9),
        p50_ms: percentile(&latencies, 50.0),
        p95_ms: percentile(&latencies, 95.0),
        p99_ms: percentile(&latencies, 99.0),
    }
}

/// Runs `concurrency` workers sending `request(n)` until `duration` passes; counts answers other than `ok`.
async fn load<F>(
    s: &'static Stack,
    route: &'static str,
    concurrency: usize,
    duration: Duration,
    ok: u16,
    request: F,
) -> Figures
where
    F: Fn(usize) -> Value + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(0usize));
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, latencies, errors, counter) = (
                request.clone(),
                latencies.clone(),
                errors.clone(),
                counter.clone(),
            );
            tokio::spawn(async move {
                while started.elapsed() < duration {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= MAX_REQUESTS {
                        break;
                    }
                    let body = request(n);
                    let t = Instant::now();
                    let (status, _) = s.post(route, &body).await;
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    latencies.lock().unwrap_or_else(|e| e.into_inner()).push(ms);
                    if status != ok {
                        *errors.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        // A worker that panicked measured nothing: the figures would be a lie.
        if let Err(e) = w.await {
            panic!("a load worker failed: {e}");
        }
    }
    let elapsed = started.elapsed();
    let latencies = latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let errors = *errors.lock().unwrap_or_else(|e| e.into_inner());
    figures(route, concurrency, latencies, errors, elapsed)
}

/// The stack `bench flows` loads, beside the one under test on the same LocalStack: the local template plus the
/// floor route, which no other stack has. Its users and faces stay out of the stack under test.
pub const BENCH_STACK: &str = "Riv-Bench-Flows";

/// The bench stack, deployed (or updated) on first use.
pub fn bench_stack() -> &'static Stack {
    crate::variant_of(BENCH_STACK, riv_infra::stack::Flavor::Bench, &[])
}

/// For each number of clients in `levels`: the floor, register, then auth, each for `duration`. The floor and
/// auth send the same bodies, from a pool of users registered once before the first level.
pub async fn flows(
    s: &'static Stack,
    levels: &[usize],
    duration: Duration,
) -> Result<Vec<Figures>, String> {
    let mut pool = Vec::new();
    for _ in 0..10 {
        let user = unique("bench-auth");
        let image = photo(Case::Selfie, &user);
        let (status, answer) = s
            .post("register", &json!({"UserId": user, "Image": image}))
            .await;
        if status != 200 {
            return Err(format!("could not register bench users: {status} {answer}"));
        }
        pool.push(json!({"UserId": user, "Image": image}));
    }
    let pool = Arc::new(pool);
    let mut all = Vec::new();
    for &clients in levels {
        let bodies = pool.clone();
        let floor = load(s, route::FLOOR, clients, duration, 200, move |n| {
            bodies[n % bodies.len()].clone()
        })
        .await;
        let register = load(s, "register", clients, duration, 200, |_| {
            let user = unique("bench");
            json!({"UserId": user, "Image": photo(Case::Selfie, &user)})
        })
        .await;
        let pool = pool.clone();
        let auth = load(s, "auth", clients, duration, 200, move |n| {
            pool[n % pool.len()].clone()
        })
        .await;
        all.extend([floor, register, auth]);
    }
    Ok(all)
}

/// A flow's figures against the floor's with as many clients.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct VersusFloor {
    /// The flow's p50 over the floor's: 1.0 is the platform's own cost.
    pub p50: f64,
    /// The flow's req/s over the floor's.
    pub throughput: f64,
}

/// Each figure against the floor's at the same number of clients (`None` without a floor figure there).
pub fn versus_floor(figures: &[Figures]) -> Vec<Option<VersusFloor>> {
    figures
        .iter()
        .map(|f| {
            let floor = figures
                .iter()
                .find(|b| b.flow == route::FLOOR && b.clients == f.clients)?;
            (floor.p50_ms > 0.0 && floor.per_second > 0.0).then(|| VersusFloor {
                p50: f.p50_ms / floor.p50_ms,
                throughput: f.per_second / floor.per_second,
            })
        })
        .collect()
}

/// Each flow's throughput at every level as a multiple of its throughput at the first (fewest clients) level.
pub fn scaling(figures: &[Figures]) -> Vec<(String, usize, f64)> {
    let mut out = Vec::new();
    for f in figures {
        let base = figures
            .iter()
            .filter(|b| b.flow == f.flow)
            .min_by_key(|b| b.clients)
            .map_or(0.0, |b| b.per_second);
        let ratio = if base > 0.0 { f.per_second / base } else { 0.0 };
        out.push((f.flow.clone(), f.clients, ratio));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(flow: &str, clients: usize, requests: usize) -> Figures {
        figures(
            flow,
            clients,
            vec![10.0; requests],
            0,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn flows_read_against_the_floor_with_as_many_clients() {
        let mut floor1 = at("floor", 1, 40);
        floor1.p50_ms = 20.0;
        let mut auth1 = at("auth", 1, 20);
        auth1.p50_ms = 35.0;
        let figures = [floor1, auth1, at("auth", 8, 10)];
        let ratios = versus_floor(&figures);
        assert_eq!(
            ratios[1],
            Some(VersusFloor {
                p50: 1.75,
                throughput: 0.5
            })
        );
        assert_eq!(ratios[0].map(|r| r.p50), Some(1.0));
        assert_eq!(ratios[2], None, "no floor measured with 8 clients");
    }

    #[test]
    fn throughput_scales_against_the_fewest_clients_of_the_same_flow() {
        let figures = [
            at("auth", 1, 10),
            at("register", 1, 5),
            at("auth", 8, 45),
            at("register", 8, 5),
        ];
        let ratios = scaling(&figures);
        assert_eq!(ratios[0], ("auth".into(), 1, 1.0));
        assert_eq!(ratios[2], ("auth".into(), 8, 4.5));
        assert_eq!(ratios[3], ("register".into(), 8, 1.0));
    }
}

/// How long `local up` takes and how fast a function starts in the process executor.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalUpFigures {
    pub cold_venv: bool,
    pub phases: Vec<(String, f64)>,
    pub total_seconds: f64,
    pub first_invoke_ms: f64,
    pub warm_invoke_ms: f64,
}

/// Brings up a fresh local stack on a free port (after removing the venv when `cold`), invokes one function
/// twice, and takes the stack down again.
pub async fn local_up(cold: bool) -> Result<LocalUpFigures, String> {
    use riv_launcher::up::{self as stack_local, UpOptions};
    let root = crate::workspace_root();
    let paths = riv_launcher::Paths::new(&root);
    if cold {
        for entry in std::fs::read_dir(&paths.work)
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with("venv-") {
                std::fs::remove_dir_all(entry.path()).map_err(|e| {
                    format!("removing {} for a cold start: {e}", entry.path().display())
                })?;
            }
        }
    }
    let port = riv_launcher::http::free_port().map_err(|e| e.to_string())?;
    let options = UpOptions::on_port(port, "Riv-Bench").map_err(|e| crate::chain(&e))?;
    let started = Instant::now();
    let up = stack_local::up(&root, &options, &|m| eprintln!("==> {m}"))
        .await
        .map_err(|e| crate::chain(&e))?;
    let total_seconds = started.elapsed().as_secs_f64();
    let target = riv_deploy::Target::local(&up.running.endpoint(), stack_local::REGION).await;
    let lambda = aws_sdk_lambda::Client::new(&target.config);
    let event = json!({"Input": {"UserId": "bench", "Image": photo(Case::Selfie, "bench")}});
    let mut times = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        lambda
            .invoke()
            .function_name("Riv-Bench-detect-faces")
            .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    riv_launcher::stop(&up.running.dir).map_err(|e| format!("stopping the bench stack: {e}"))?;
    Ok(LocalUpFigures {
        cold_venv: cold,
        phases: up
            .phases
            .iter()
            .map(|(p, d)| (p.clone(), d.as_secs_f64()))
            .collect(),
        total_seconds,
        first_invoke_ms: times[0],
        warm_invoke_ms: times[1],
    })
}

/// Denial latency through the local API, one request at a time, for a wrong face on a registered user (with
/// the most faces a user keeps, the most work a denial can cause) and for a UserId nobody registered. The two
/// must be indistinguishable: every denial waits for the stack's denial floor.
pub async fn denials(samples: usize) -> Result<Vec<Figures>, String> {
    let s = stack();
    let cap = riv_domain::config::MAX_FACES_PER_USER.default as usize;
    let stranger = photo(Case::Selfie, &unique("stranger"));
    // Each known user takes four wrong guesses, then proves itself (unmeasured) so the lockout never trips.
    let known_users = samples.div_ceil(4).max(1);
    let mut known = Vec::new();
    for _ in 0..known_users {
        let user = unique("bench-known");
        let right = photo(Case::Selfie, &user);
        let req = json!({"UserId": user, "Image": right});
        let (status, answer) = s.post("register", &req).await;
        if status != 200 {
            return Err(format!("registering {user}: {status} {answer}"));
        }
        for _ in 1..cap {
            let (status, answer) = s.post("update", &req).await;
            if status != 200 {
                return Err(format!("adding a face to {user}: {status} {answer}"));
            }
        }
        known.push((user, right));
    }
    let mut out = Vec::new();
    for route in ["auth", "update"] {
        let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
        let started = Instant::now();
        for n in 0..samples {
            let (user, right) = &known[n / 4];
            let (status, answer, took) = s
                .post_raw(route, &json!({"UserId": user, "Image": stranger}))
                .await;
            if status != 401 {
                return Err(format!(
                    "{route} with a wrong face: {status} {}",
                    String::from_utf8_lossy(&answer)
                ));
            }
            wrong.push(took.as_secs_f64() * 1000.0);
            let ghost = unique("bench-ghost");
            let (status, answer, took) = s
                .post_raw(route, &json!({"UserId": ghost, "Image": stranger}))
                .await;
            if status != 401 {
                return Err(format!(
                    "{route} of an unknown user: {status} {}",
                    String::from_utf8_lossy(&answer)
                ));
            }
            unknown.push(took.as_secs_f64() * 1000.0);
            if n % 4 == 3 || n + 1 == samples {
                let (status, answer) = s
                    .post("auth", &json!({"UserId": user, "Image": right}))
                    .await;
                if status != 200 {
                    return Err(format!("resetting {user}'s lockout: {status} {answer}"));
                }
            }
        }
        let elapsed = started.elapsed();
        out.push(figures(
            &format!("{route} wrong face"),
            1,
            wrong,
            0,
            elapsed,
        ));
        out.push(figures(&format!("{route} unknown"), 1, unknown, 0, elapsed));
    }
    Ok(out)
}
