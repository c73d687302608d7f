// The Riv portal: register (with or without an ID card), log in and update the photo, through the API on the
// same origin. Plain ES module, no build step. The page lives at <stage>/portal/, so the API is one level up.

const API = new URL("../", location.href);

/** What each page asks for and says. */
const PAGES = {
  register: {
    title: "Register",
    intro: "Choose a user id and take a photo of your face.",
    submit: "Register",
    card: false,
    properties: true,
  },
  "register-idcard": {
    title: "Register with ID card",
    intro: "Choose a user id, take a photo of your face and add a picture of your ID card: the card's photo must show you.",
    submit: "Register",
    card: true,
    properties: true,
  },
  auth: {
    title: "Log in",
    intro: "Enter your user id and look at the camera.",
    submit: "Log in",
    card: false,
    properties: false,
  },
  update: {
    title: "Update photo",
    intro: "Enter your user id and take a new photo: your face is checked against the one on file first.",
    submit: "Update my photo",
    card: false,
    properties: true,
  },
};

/** What to tell a person for each reason the API gives, and what to do about it. */
const MESSAGES = {
  InvalidRequest: "Something in the form is not right. Check your user id and the photo, then try again.",
  NoFaceDetected: "No face was found in the photo. Face the camera in good light and try again.",
  TooManyFaces: "Only one face should be in the photo. Make sure nobody else is in the picture.",
  PoseOutOfRange: "Your head is turned too far. Look straight at the camera and try again.",
  SunglassesDetected: "Take off your sunglasses and try again.",
  EyesClosed: "Your eyes look closed. Keep your eyes open when the countdown ends.",
  FaceTooSmall: "Your face is too small in the photo. Move closer to the camera.",
  LowQuality: "The photo is too dark or blurry. Find better light, hold still and try again.",
  UserAlreadyExists: "This user id is already registered. Log in, or choose another user id.",
  FaceAlreadyRegistered: "This face is already registered. Log in with the user id you registered with.",
  IdCardUnreadable: "The ID card could not be read. Use a sharp, well-lit picture of the whole front of the card.",
  FaceNotMatchWithIdCard: "Your face does not match the photo on the ID card. Use your own card.",
  UserAccessDenied: "We could not verify that this face belongs to this user id. Check the user id and try again.",
  UpdateConflict: "Your profile was being changed at the same moment. Send the update again.",
  TooManyAttempts: "Too many attempts for this user id. Wait a few minutes before trying again.",
  TooManyRequests: "The service is busy. Wait a moment and try again.",
  QuotaExceeded: "The service has reached its daily limit. Try again tomorrow.",
  InvalidApiKey: "This portal is not allowed to use the service. Contact the site's administrator.",
  InternalError: "Something went wrong on our side. Try again in a moment.",
};

/** Longest side of a photo as sent: plenty for face matching, and a 12 MP photo does not travel whole. */
const MAX_SIDE = 1280;
const JPEG_QUALITY = 0.85;
/** Images up to this many bytes in all go inline in the request (Step Functions takes 256 KiB of base64 input). */
const INLINE_BYTES = 180 * 1024;
const COUNTDOWN_SECONDS = 3;

const $ = (id) => document.getElementById(id);
let page = "register";
let stream = null;
let selfie = null; // Blob (JPEG)
let card = null; // Blob (JPEG)

function show(section) {
  for (const id of ["consent", "flow", "result"]) $(id).hidden = id !== section;
}

function consented() {
  return sessionStorage.getItem("riv-consent") === "yes";
}

function route() {
  const wanted = location.hash.slice(1);
  page = wanted in PAGES ? wanted : "register";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === `#${page}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  stopCamera();
  if (!consented()) {
    show("consent");
    return;
  }
  const p = PAGES[page];
  $("flow-title").textContent = p.title;
  $("flow-intro").textContent = p.intro;
  $("submit").textContent = p.submit;
  $("card-field").hidden = !p.card;
  $("properties-field").hidden = !p.properties;
  $("progress").textContent = "";
  $("progress").className = "";
  resetSelfie();
  resetCard();
  show("flow");
  $("flow-title").focus();
}

// --- camera --------------------------------------------------------------------------------------------

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
      audio: false,
    });
  } catch (e) {
    status(`The camera could not be started (${e.name}). You can choose a photo file instead.`, true);
    $("selfie-file").focus();
    return;
  }
  const video = $("preview");
  video.srcObject = stream;
  await video.play();
  video.hidden = false;
  $("snapshot").hidden = true;
  $("camera-start").hidden = true;
  $("camera-capture").hidden = false;
  $("camera-retake").hidden = true;
  $("camera-capture").focus();
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("preview").hidden = true;
}

async function capture() {
  const countdown = $("countdown");
  $("camera-capture").disabled = true;
  countdown.hidden = false;
  for (let n = COUNTDOWN_SECONDS; n > 0; n--) {
    countdown.textContent = String(n);
    await new Promise((r) => setTimeout(r, 1000));
  }
  countdown.hidden = true;
  $("camera-capture").disabled = false;
  const video = $("preview");
  selfie = await downscale(video, video.videoWidth, video.videoHeight, $("snapshot"));
  stopCamera();
  $("snapshot").hidden = false;
  $("camera-capture").hidden = true;
  $("camera-retake").hidden = false;
  $("camera-retake").focus();
  status(`Photo taken (${kib(selfie.size)}).`);
}

function resetSelfie() {
  selfie = null;
  $("snapshot").hidden = true;
  $("camera-start").hidden = false;
  $("camera-capture").hidden = true;
  $("camera-retake").hidden = true;
  $("selfie-file").value = "";
}

// --- images --------------------------------------------------------------------------------------------

/** Draws `source` at most MAX_SIDE on its longest side into `canvas` (a new one by default); a JPEG Blob. */
async function downscale(source, width, height, canvas = document.createElement("canvas")) {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the photo could not be encoded"))), "image/jpeg", JPEG_QUALITY),
  );
}

async function fromFile(file, canvas) {
  if (!["image/jpeg", "image/png"].includes(file.type)) {
    throw new Error("Choose a JPEG or PNG image.");
  }
  const bitmap = await createImageBitmap(file);
  const blob = await downscale(bitmap, bitmap.width, bitmap.height, canvas);
  bitmap.close();
  return blob;
}

function kib(bytes) {
  return `${Math.round(bytes / 1024)} KiB`;
}

async function base64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// --- the ID card ---------------------------------------------------------------------------------------

async function takeCard(file) {
  try {
    card = await fromFile(file);
  } catch (e) {
    status(e.message, true);
    return;
  }
  const img = $("card-preview");
  img.src = URL.createObjectURL(card);
  img.hidden = false;
  status(`ID card added (${kib(card.size)}).`);
}

function resetCard() {
  card = null;
  $("card-preview").hidden = true;
  $("card-file").value = "";
}

// --- sending -------------------------------------------------------------------------------------------

function status(text, error = false) {
  $("progress").textContent = text;
  $("progress").className = error ? "error" : "";
}

async function post(path, body) {
  const response = await fetch(new URL(path, API), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer;
  try {
    answer = await response.json();
  } catch {
    answer = { Reason: "InternalError" };
  }
  return { status: response.status, answer };
}

/** Uploads the images through presigned URLs; the keys the flow takes in their place. */
async function upload(userId, images) {
  const declare = (blob) => ({ ContentType: blob.type, ContentLength: blob.size });
  const request = { UserId: userId, Selfie: declare(images.selfie) };
  if (images.card) request.IdCard = declare(images.card);
  const { status: code, answer } = await post("uploads", request);
  if (code !== 200) return { failed: { status: code, answer } };
  const put = async (target, blob) => {
    // The browser sets Content-Length itself (it may not be set by a page); it is the blob's size, as signed.
    const headers = Object.fromEntries(
      Object.entries(target.Headers).filter(([name]) => name.toLowerCase() !== "content-length"),
    );
    const response = await fetch(target.Url, { method: target.Method, headers, body: blob });
    if (!response.ok) throw new Error(`the upload was refused (${response.status})`);
  };
  await put(answer.Selfie, images.selfie);
  const keys = { ImageKey: answer.Selfie.Key };
  if (images.card) {
    await put(answer.IdCard, images.card);
    keys.IdCardKey = answer.IdCard.Key;
  }
  return { keys };
}

function properties() {
  const out = {};
  for (const line of $("properties").value.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

async function submit(event) {
  event.preventDefault();
  const p = PAGES[page];
  const userInput = $("user-id");
  const userId = userInput.value.trim();
  const valid = userInput.checkValidity() && userId !== "";
  userInput.setAttribute("aria-invalid", String(!valid));
  if (!valid) {
    status("Enter a user id: letters, digits, '.', '_', '@' or '-'.", true);
    userInput.focus();
    return;
  }
  if (!selfie) {
    status("Take a photo first (or choose a photo file).", true);
    $("camera-start").focus();
    return;
  }
  if (p.card && !card) {
    status("Add a picture of your ID card first.", true);
    $("card-drop").focus();
    return;
  }
  $("submit").disabled = true;
  try {
    const body = { UserId: userId };
    const images = { selfie, card: p.card ? card : null };
    const total = selfie.size + (images.card ? images.card.size : 0);
    if (total <= INLINE_BYTES) {
      status("Sending your photo…");
      body.Image = await base64(selfie);
      if (images.card) body.IdCard = await base64(images.card);
    } else {
      status(`Uploading your photo (${kib(total)})…`);
      const uploaded = await upload(userId, images);
      if (uploaded.failed) return finish(uploaded.failed);
      Object.assign(body, uploaded.keys);
    }
    if (p.properties) {
      const props = properties();
      if (Object.keys(props).length) body.Properties = props;
    }
    status(page === "auth" ? "Checking your face…" : "Checking your photo and saving it…");
    finish(await post(page, body));
  } catch (e) {
    finish({ status: 0, answer: { Reason: "InternalError", Message: String(e.message || e) } });
  } finally {
    $("submit").disabled = false;
  }
}

/** The result view: what happened, in words, with the card's fields after register-idcard. */
function finish({ status: code, answer }) {
  const ok = code === 200;
  const titles = { Registered: "Registered", Verified: "Login successful", Updated: "Photo updated" };
  $("result").className = ok ? "good" : "bad";
  $("result-title").textContent = ok ? titles[answer.Status] || "Done" : "That did not work";
  $("result-message").textContent = ok
    ? success(answer)
    : MESSAGES[answer.Reason] || MESSAGES.InternalError;
  const fields = $("card-fields");
  fields.replaceChildren();
  const read = ok && answer.IdCard && answer.IdCard.Fields;
  if (read) {
    for (const [name, value] of Object.entries(read)) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      fields.append(dt, dd);
    }
  }
  fields.hidden = !read;
  $("result-again").setAttribute("href", `#${page}`);
  show("result");
  $("result-title").focus();
}

function success(answer) {
  switch (answer.Status) {
    case "Registered":
      return answer.IdCard
        ? `Welcome, ${answer.UserId}. Your face and ID card are registered; this is what was read from the card:`
        : `Welcome, ${answer.UserId}. You can now log in with your face.`;
    case "Verified":
      return `Welcome back, ${answer.UserId}.`;
    case "Updated":
      return `Your new photo is saved, ${answer.UserId}.`;
    default:
      return "";
  }
}

// --- wiring --------------------------------------------------------------------------------------------

function wire() {
  $("consent-accept").addEventListener("click", () => {
    sessionStorage.setItem("riv-consent", "yes");
    route();
  });
  $("camera-start").addEventListener("click", startCamera);
  $("camera-capture").addEventListener("click", capture);
  $("camera-retake").addEventListener("click", () => {
    resetSelfie();
    startCamera();
  });
  $("selfie-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    stopCamera();
    try {
      selfie = await fromFile(file, $("snapshot"));
    } catch (err) {
      status(err.message, true);
      return;
    }
    $("snapshot").hidden = false;
    $("camera-retake").hidden = false;
    status(`Photo chosen (${kib(selfie.size)}).`);
  });
  const drop = $("card-drop");
  drop.addEventListener("click", () => $("card-file").click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("card-file").click();
    }
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) takeCard(file);
  });
  $("card-file").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) takeCard(file);
  });
  // "Back" to the page already in the address bar changes no hash, so no hashchange would bring the form back.
  $("result-again").addEventListener("click", (e) => {
    if (e.currentTarget.getAttribute("href") === location.hash) {
      e.preventDefault();
      route();
    }
  });
  $("flow-form").addEventListener("submit", submit);
  window.addEventListener("hashchange", route);
  route();
}

wire();
