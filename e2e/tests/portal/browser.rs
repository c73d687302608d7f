//! Debian's Chromium driven through its chromedriver (W3C WebDriver) with `fantoccini`: a plain HTTP client of
//! the protocol over hyper, which the workspace already builds, with no TLS stack of its own (the driver is on
//! loopback) and no browser download. Chosen over `thirtyfour` (a heavier layer over the same protocol, with
//! its own reqwest stack) and `chromiumoxide` (CDP: it would drive the browser without the driver Debian
//! packages next to it, and its generated protocol bindings are a long compile).

use fantoccini::{Client, ClientBuilder};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The browser and its driver, as Debian installs them (`apt-get install chromium chromium-driver`).
pub struct Installed {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

/// Where `chromium` and `chromedriver` are on PATH; the reason when either is not.
pub fn installed() -> Result<Installed, String> {
    let find = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("no {name} on PATH"))
    };
    Ok(Installed {
        chromium: find("chromium")?,
        chromedriver: find("chromedriver")?,
    })
}

/// A chromedriver on a free loopback port, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    pub async fn start(installed: &Installed) -> Result<Driver, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port for chromedriver: {e}"))?
            .port();
        let child = Command::new(&installed.chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", installed.chromedriver.display()))?;
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium: installed.chromium.clone(),
        };
        // Listening is ready: chromedriver opens its port once it can take a session.
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "chromedriver did not listen on {} in 20 s",
                    driver.url
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(driver)
    }

    /// A new headless browser whose camera plays `camera` (a y4m file), at a desktop window size.
    pub async fn session(&self, camera: &Path) -> Result<Client, String> {
        let args = vec![
            "--headless=new".to_string(),
            // Root in a container: Chromium's sandbox needs user namespaces the machine may not give.
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--window-size=1280,1000".to_string(),
            "--use-fake-ui-for-media-stream".to_string(),
            "--use-fake-device-for-media-stream".to_string(),
            format!("--use-file-for-fake-video-capture={}", camera.display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "chrome".into());
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"binary": self.chromium, "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .map_err(|e| format!("a Chromium session through {}: {e}", self.url))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver ends its browsers with itself; a driver already gone is what we want.
        if let Err(e) = self.child.kill() {
            eprintln!("stopping chromedriver: {e}");
        }
        if let Err(e) = self.child.wait() {
            eprintln!("reaping chromedriver: {e}");
        }
    }
}
