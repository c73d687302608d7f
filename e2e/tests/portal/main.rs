//! The web portal in a real browser (Debian's Chromium, headless, driven through chromedriver), against a stack
//! of its own in the local stack's LocalStack: a person registers with the camera, logs in, is refused as
//! someone else, registers with an ID card chosen from a file, updates the photo with the camera and then with
//! a 12-megapixel photo file. The camera plays a y4m video written here from the committed fixture photos, so
//! real faces reach the real engine through the page's camera path. A screenshot of each page goes to
//! `target/portal/`.
//!
//! Skips (and says why) only when Chromium or chromedriver is not installed and this is not CI; under CI
//! (`CI` set), where `.ci/run` installs them, a missing browser fails the test.

mod browser;

use fantoccini::{Client, Locator};
use riv_emulator::camera;
use riv_emulator::photos::{self, CardFields, Person};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STACK: &str = "Riv-Portal";

/// What the portal says, word for word (`portal/app.js`): the test reads what a person reads.
const REFUSED_TITLE: &str = "That did not work";
const WRONG_FACE: &str =
    "We could not verify that this face belongs to this user id. Check the user id and try again.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_goes_through_the_four_flows_in_a_real_browser() {
    let installed = match browser::installed() {
        Ok(installed) => installed,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED the portal's browser test: {why}. Install the browser with \
                 `sudo apt-get install chromium chromium-driver` (.ci/run does) and run it again."
            );
            return;
        }
        Err(why) => {
            panic!("{why}: .ci/run installs chromium and chromium-driver; CI must have them")
        }
    };
    let started = Instant::now();
    // A stack of its own: the faces registered here must be new to its collection, so whatever an earlier run
    // left in a long-lived LocalStack (`RIV_ENDPOINT_URL`) goes first.
    let base = riv_e2e::stack();
    let target = riv_deploy::Target::local(&base.endpoint, &base.region).await;
    riv_deploy::teardown::destroy(&target, STACK, &|m| eprintln!("==> {m}"))
        .await
        .unwrap_or_else(|e| panic!("removing an earlier {STACK}: {}", riv_e2e::chain(&e)));
    let stack = riv_e2e::variant(STACK, &[]);
    let portal = riv_launcher::up::portal_url(&stack.api_url);
    let out = riv_e2e::workspace_root().join("target").join("portal");
    let inputs =
        Inputs::write(&out).unwrap_or_else(|e| panic!("writing the test's camera files: {e}"));
    let driver = browser::Driver::start(&installed)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let result = walk_through(stack, &driver, &portal, &inputs, &out).await;
    if let Err(e) = result {
        panic!("{e}\n(screenshots so far in {})", out.display());
    }
    eprintln!(
        "the portal's browser test took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
}

/// The files the browser reads: a camera video per person, the ID card, a 12 MP photo.
struct Inputs {
    camera: Vec<(Person, PathBuf)>,
    card: PathBuf,
    twelve_mp: PathBuf,
}

impl Inputs {
    fn write(out: &Path) -> Result<Inputs, String> {
        let dir = out.join("inputs");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let write = |name: &str, bytes: Vec<u8>| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok::<_, String>(path)
        };
        let portrait = |p: Person| p.portrait().map_err(|e| e.to_string());
        let mut cameras = Vec::new();
        for person in [Person::Obama, Person::Obama2, Person::Obama3, Person::Biden] {
            // A close-up, as a person fills a webcam's frame.
            let video = camera::y4m(&portrait(person)?, 2);
            cameras.push((person, write(&format!("{person:?}.y4m"), video)?));
        }
        let card = photos::id_card(&portrait(Person::Biden)?, &CardFields::sample());
        let photo = Person::Obama2.photo().map_err(|e| e.to_string())?;
        Ok(Inputs {
            camera: cameras,
            card: write("biden-card.png", photos::png(&card))?,
            twelve_mp: write("obama-12mp.jpg", camera::twelve_megapixels(&photo))?,
        })
    }

    fn camera(&self, person: Person) -> &Path {
        self.camera
            .iter()
            .find(|(p, _)| *p == person)
            .map(|(_, path)| path.as_path())
            .expect("a camera file for every person the test films")
    }
}

async fn walk_through(
    stack: &riv_e2e::Stack,
    driver: &browser::Driver,
    portal: &str,
    inputs: &Inputs,
    out: &Path,
) -> Result<(), String> {
    let user = riv_e2e::unique("portal-obama");
    let card_user = riv_e2e::unique("portal-biden");

    let page = Page::open(driver, inputs.camera(Person::Obama), portal, out).await?;
    page.shot("01-consent").await?;
    page.consent().await?;
    page.fill("register", &user).await?;
    page.shot("02-register-camera").await?;
    page.expect("03-registered", "Registered", None).await?;
    page.close().await?;

    let page = Page::open(driver, inputs.camera(Person::Obama2), portal, out).await?;
    page.consent().await?;
    page.fill("auth", &user).await?;
    page.expect("04-login-successful", "Login successful", None)
        .await?;
    page.close().await?;

    // Someone else in front of the camera, then registering with a card chosen from a file.
    let page = Page::open(driver, inputs.camera(Person::Biden), portal, out).await?;
    page.consent().await?;
    page.fill("auth", &user).await?;
    page.expect("05-login-refused", REFUSED_TITLE, Some(WRONG_FACE))
        .await?;
    page.fill("register-idcard", &card_user).await?;
    page.record_requests().await?;
    page.choose("#card-file", &inputs.card).await?;
    page.visible("#card-preview").await?;
    page.shot("06-register-idcard").await?;
    let (title, message) = page.submit().await?;
    let fields = page.text("#card-fields").await?;
    eprintln!(
        "register-idcard sent: {}",
        describe(&page.requests().await?)
    );
    page.shot("07-registered-with-card").await?;
    ensure(
        title == "Registered",
        format!("register-idcard: {title}: {message}"),
    )?;
    for shown in [
        "FIRST_NAME",
        "JOHN",
        "LAST_NAME",
        "DOE",
        "D123-456-789",
        "1961-08-04",
    ] {
        ensure(
            fields.contains(shown),
            format!("the card's fields as shown lack {shown:?}: {fields:?}"),
        )?;
    }
    page.close().await?;

    let page = Page::open(driver, inputs.camera(Person::Obama3), portal, out).await?;
    page.consent().await?;
    page.fill("update", &user).await?;
    page.expect("08-photo-updated", "Photo updated", None)
        .await?;

    // A phone's 12 MP photo through the file fallback: what the page sends is what counts.
    page.click("#result-again").await?;
    page.visible("#flow-title").await?;
    page.user(&user).await?;
    page.record_requests().await?;
    page.choose("#selfie-file", &inputs.twelve_mp).await?;
    let chosen = page.wait_text("#progress", "Photo chosen").await?;
    let (title, message) = page.submit().await?;
    ensure(
        title == "Photo updated",
        format!("update with a 12 MP photo: {title}: {message}"),
    )?;
    let sent = page.requests().await?;
    let total: u64 = sent.iter().map(|r| r.bytes).sum();
    eprintln!(
        "a 12 MP photo ({} bytes on disk): {chosen}; the page sent {total} bytes in all: {}",
        std::fs::metadata(&inputs.twelve_mp)
            .map_err(|e| e.to_string())?
            .len(),
        describe(&sent)
    );
    ensure(
        total > 0 && total < 1024 * 1024,
        format!("a 12 MP photo should travel shrunk, not whole: {total} bytes sent"),
    )?;
    // Shrunk, it is still over what goes inline: it must go to S3 through a presigned PUT, the flow by key.
    let put = sent
        .iter()
        .find(|r| r.method == "PUT" && r.path.contains("/uploads/"));
    let flow = sent.iter().find(|r| r.path.ends_with("/update"));
    ensure(
        put.is_some_and(|p| p.bytes > 180 * 1024) && flow.is_some_and(|f| f.bytes < 1024),
        format!(
            "the 12 MP photo did not go through an upload: {}",
            describe(&sent)
        ),
    )?;
    ensure(
        uploads_left(stack).await?.is_empty(),
        format!("uploads left in {STACK}'s bucket after the flows"),
    )?;

    page.phone_width().await?;
    page.shot("09-phone-width").await?;
    page.close().await
}

/// The requests as one line: method, path (API routes by name, uploads by key) and body size.
fn describe(sent: &[Sent]) -> String {
    sent.iter()
        .map(|r| {
            let path = r.path.rsplit("_user_request_").next().unwrap_or(&r.path);
            format!("{} {path} ({} bytes)", r.method, r.bytes)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The keys of every version still under `uploads/` in the stack's image bucket.
async fn uploads_left(stack: &riv_e2e::Stack) -> Result<Vec<String>, String> {
    let target = riv_deploy::Target::local(&stack.endpoint, &stack.region).await;
    let bucket = stack.output(riv_infra::names::output::IMAGE_BUCKET)?;
    let listed = target
        .s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(riv_domain::uploads::PREFIX)
        .send()
        .await
        .map_err(|e| format!("ListObjectVersions {bucket}: {e:?}"))?;
    Ok(listed
        .versions()
        .iter()
        .filter_map(|v| v.key().map(str::to_string))
        .collect())
}

fn ensure(ok: bool, what: String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

/// One request the page made, as recorded in the page.
struct Sent {
    method: String,
    path: String,
    bytes: u64,
}

/// A browser on the portal.
struct Page {
    client: Client,
    portal: String,
    out: PathBuf,
}

/// How long a flow may take in the page (the real engine, a cold function, a first Textract call).
const FLOW_TIMEOUT: Duration = Duration::from_secs(90);
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

impl Page {
    async fn open(
        driver: &browser::Driver,
        camera: &Path,
        portal: &str,
        out: &Path,
    ) -> Result<Page, String> {
        let client = driver.session(camera).await?;
        client
            .goto(portal)
            .await
            .map_err(|e| format!("opening {portal}: {e}"))?;
        Ok(Page {
            client,
            portal: portal.to_string(),
            out: out.to_path_buf(),
        })
    }

    async fn close(self) -> Result<(), String> {
        self.client
            .close()
            .await
            .map_err(|e| format!("closing the browser: {e}"))
    }

    async fn find(&self, css: &str) -> Result<fantoccini::elements::Element, String> {
        self.client
            .wait()
            .at_most(STEP_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| format!("waiting for {css}: {e}"))
    }

    async fn click(&self, css: &str) -> Result<(), String> {
        self.visible(css)
            .await?
            .click()
            .await
            .map_err(|e| format!("clicking {css}: {e}"))
    }

    /// The element once it is shown (not inside anything `hidden`).
    async fn visible(&self, css: &str) -> Result<fantoccini::elements::Element, String> {
        let started = Instant::now();
        loop {
            let element = self.find(css).await?;
            if element.is_displayed().await.map_err(|e| e.to_string())? {
                return Ok(element);
            }
            if started.elapsed() > STEP_TIMEOUT {
                return Err(format!("{css} was never shown"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, css: &str) -> Result<String, String> {
        self.find(css)
            .await?
            .text()
            .await
            .map_err(|e| format!("reading {css}: {e}"))
    }

    async fn wait_text(&self, css: &str, wanted: &str) -> Result<String, String> {
        let started = Instant::now();
        loop {
            let text = self.text(css).await?;
            if text.contains(wanted) {
                return Ok(text);
            }
            if started.elapsed() > STEP_TIMEOUT {
                return Err(format!("{css} never said {wanted:?}; it says {text:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Accepts the consent notice; the flow's heading then has the focus, as a keyboard user needs.
    async fn consent(&self) -> Result<(), String> {
        self.click("#consent-accept").await?;
        self.visible("#flow-title").await?;
        let focused = self
            .client
            .execute("return document.activeElement.id", vec![])
            .await
            .map_err(|e| e.to_string())?;
        ensure(
            focused == "flow-title",
            format!("after consent the focus is on {focused}, not the page's heading"),
        )
    }

    async fn go(&self, page: &str) -> Result<(), String> {
        let url = format!("{}#{page}", self.portal);
        self.client
            .goto(&url)
            .await
            .map_err(|e| format!("opening {url}: {e}"))?;
        self.visible("#flow-title").await.map(|_| ())
    }

    async fn user(&self, id: &str) -> Result<(), String> {
        let input = self.visible("#user-id").await?;
        input.clear().await.map_err(|e| e.to_string())?;
        input
            .send_keys(id)
            .await
            .map_err(|e| format!("typing the user id: {e}"))
    }

    /// Opens `route`'s page, types the user id and takes the photo with the camera.
    async fn fill(&self, route: &str, user: &str) -> Result<(), String> {
        self.go(route).await?;
        self.user(user).await?;
        self.take_photo().await
    }

    /// Sends the form, saves a screenshot of the result as `shot`, and checks its title (and message).
    async fn expect(&self, shot: &str, title: &str, message: Option<&str>) -> Result<(), String> {
        let (shown, said) = self.submit().await?;
        self.shot(shot).await?;
        ensure(
            shown == title && message.is_none_or(|m| m == said),
            format!("{shot}: wanted {title:?} ({message:?}), the page says {shown:?}: {said:?}"),
        )
    }

    /// Turns the camera on, takes the photo after the countdown, and waits for the snapshot.
    async fn take_photo(&self) -> Result<(), String> {
        self.click("#camera-start").await?;
        self.click("#camera-capture").await?;
        self.visible("#countdown").await?;
        self.visible("#camera-retake").await?;
        self.wait_text("#progress", "Photo taken").await.map(|_| ())
    }

    async fn choose(&self, css: &str, file: &Path) -> Result<(), String> {
        self.find(css)
            .await?
            .send_keys(&file.display().to_string())
            .await
            .map_err(|e| format!("choosing {} in {css}: {e}", file.display()))
    }

    /// Sends the form and waits for the result view: its title and message.
    async fn submit(&self) -> Result<(String, String), String> {
        self.click("#submit").await?;
        let started = Instant::now();
        loop {
            let result = self.find("#result").await?;
            if result.is_displayed().await.map_err(|e| e.to_string())? {
                return Ok((
                    self.text("#result-title").await?,
                    self.text("#result-message").await?,
                ));
            }
            if started.elapsed() > FLOW_TIMEOUT {
                let progress = self.text("#progress").await?;
                return Err(format!(
                    "no result after {} s; the page says {progress:?}",
                    FLOW_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// From now on the page notes every request it sends: method, URL and body size.
    async fn record_requests(&self) -> Result<(), String> {
        let script = "window.rivSent = []; const send = window.fetch; \
            window.fetch = (url, options = {}) => { const body = options.body; \
            const bytes = body == null ? 0 : (typeof body === 'string' ? new Blob([body]).size : body.size); \
            window.rivSent.push([options.method || 'GET', String(url), bytes]); return send(url, options); }; \
            return true;";
        self.client
            .execute(script, vec![])
            .await
            .map(|_| ())
            .map_err(|e| format!("recording requests: {e}"))
    }

    async fn requests(&self) -> Result<Vec<Sent>, String> {
        let sent = self
            .client
            .execute("return window.rivSent", vec![])
            .await
            .map_err(|e| format!("reading the recorded requests: {e}"))?;
        let rows = sent
            .as_array()
            .ok_or(format!("no requests recorded: {sent}"))?;
        rows.iter()
            .map(|row| match row.as_array().map(Vec::as_slice) {
                Some([Value::String(method), Value::String(url), Value::Number(bytes)]) => {
                    Ok(Sent {
                        method: method.clone(),
                        path: url.split('?').next().unwrap_or(url).to_string(),
                        bytes: bytes.as_u64().ok_or(format!("bytes of {url}: {bytes}"))?,
                    })
                }
                _ => Err(format!(
                    "a recorded request is not [method, url, bytes]: {row}"
                )),
            })
            .collect()
    }

    async fn phone_width(&self) -> Result<(), String> {
        self.client
            .set_window_size(390, 844)
            .await
            .map_err(|e| format!("resizing to a phone's width: {e}"))
    }

    async fn shot(&self, name: &str) -> Result<(), String> {
        let png = self
            .client
            .screenshot()
            .await
            .map_err(|e| format!("screenshot {name}: {e}"))?;
        let path = self.out.join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}
