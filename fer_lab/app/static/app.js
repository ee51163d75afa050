"use strict";
// The fer_lab page: webcam frames over a WebSocket (one in flight), the overlay drawn here; uploads; model picker.

const $ = (selector) => document.querySelector(selector);
const FRAME_WIDTH = 640;  // frames are downscaled to this width before they are sent
const JPEG_QUALITY = 0.8;
const COLORS = ["#e63c3c", "#3ca03c", "#a050b4", "#f0c828", "#2878c8", "#28c8e6", "#bebebe", "#ff7878"];
const UNCERTAIN = "uncertain";  // the label of a face whose top probability is below the "Uncertain below" slider
const stats = { frames: 0, serverMs: 0, fps: 0 };  // frames answered, their summed server ms, smoothed FPS
window.ferLab = { stats, last: null };

let messageSource = null;
function showMessage(text, source) {
  $("#message").textContent = text;
  $("#message").hidden = false;
  messageSource = source;
}
function clearMessage(source) {
  if (messageSource === source) $("#message").hidden = true;
}
// An error replaces the upload results on screen, so an earlier result is not taken for the answer.
function showError(text, source) {
  const canvas = $("#image-canvas");
  canvas.width = canvas.height = 0;
  $("#image-faces").replaceChildren();
  $("#image-json").textContent = "";
  $("#video-result").textContent = "";
  showMessage(text, source);
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// ---- drawing
function drawFaces(ctx, faces) {
  for (const face of faces) {
    const { x, y, w, h } = face.box;
    const names = Object.keys(face.probabilities);
    const color = face.label === UNCERTAIN ? "#808080" : COLORS[names.indexOf(face.label) % COLORS.length];
    const line = Math.max(2, ctx.canvas.width / 320);
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, h);
    const size = Math.max(12, Math.round(ctx.canvas.width / 40));
    ctx.font = `${size}px system-ui, sans-serif`;
    const text = `${face.label} ${Math.round(face.confidence * 100)}%`;
    const top = y - size - 6 >= 0 ? y - size - 6 : y + h;
    ctx.fillStyle = color;
    ctx.fillRect(x - line / 2, top, ctx.measureText(text).width + 8, size + 6);
    ctx.fillStyle = "black";
    ctx.textBaseline = "top";
    ctx.fillText(text, x + 4 - line / 2, top + 3);
    drawBars(ctx, face, names, x + w + 6, y, Math.round(size * 0.8));
  }
}

function drawBars(ctx, face, names, x, y, row) {
  const barWidth = row * 6, labelWidth = row * 2.4, width = labelWidth + barWidth + 4;
  if (x + width > ctx.canvas.width) x = Math.max(0, face.box.x - width - 6);
  y = Math.min(Math.max(y, 0), Math.max(0, ctx.canvas.height - row * names.length));
  ctx.fillStyle = "rgba(0, 0, 0, 0.65)";
  ctx.fillRect(x - 2, y, width + 2, row * names.length + 2);
  ctx.font = `${Math.round(row * 0.8)}px system-ui, sans-serif`;
  names.forEach((name, i) => {
    const top = y + i * row;
    ctx.fillStyle = "white";
    ctx.fillText(name.slice(0, 3), x, top + 1);
    ctx.fillStyle = "#444";
    ctx.fillRect(x + labelWidth, top + 2, barWidth, row - 3);
    ctx.fillStyle = COLORS[i % COLORS.length];
    ctx.fillRect(x + labelWidth, top + 2, barWidth * face.probabilities[name], row - 3);
  });
}

function listFaces(list, faces) {
  list.replaceChildren(...faces.map((face) => {
    const item = document.createElement("li");
    const { x, y, w, h } = face.box;
    Object.assign(item.dataset, { label: face.label, confidence: face.confidence, box: `${x},${y},${w},${h}` });
    item.textContent = `${face.label} ${(face.confidence * 100).toFixed(0)}% at ${x},${y} (${w}x${h})`;
    return item;
  }));
}

// ---- webcam
const video = $("#video"), overlay = $("#overlay"), grab = document.createElement("canvas");
let stream = null, socket = null, inFlight = false, lastAnswer = 0;

// What stops the camera, from getUserMedia's error, and what to do about it.
function cameraProblem(err) {
  if (!navigator.mediaDevices || err.name === "SecurityError") {
    return "no camera: browsers give the camera only to https pages or localhost; open the app on one of those.";
  }
  switch (err.name) {
    case "NotAllowedError":
      return "camera permission denied: allow the camera for this page (address bar, site settings), then reload.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "no camera found: connect one and reload, or use the Image / video tab.";
    case "NotReadableError":
      return "the camera is in use by another app: close that app, then press Start camera.";
    default:
      return `the camera did not start (${err.name}: ${err.message}): use the Image / video tab.`;
  }
}
window.ferLab.cameraProblem = cameraProblem;

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    $("#camera").textContent = "Start camera";
    showMessage(cameraProblem(err), "camera");
    return;
  }
  video.srcObject = stream;
  await video.play();
  $("#camera").textContent = "Stop camera";
  clearMessage("camera");
  connect();
}

function stopCamera() {
  stream.getTracks().forEach((track) => track.stop());
  stream = null;
  socket.close();
  $("#camera").textContent = "Start camera";
}

function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.onopen = () => { clearMessage("socket"); sendSettings(); sendFrame(); };
  socket.onmessage = (event) => {
    const answer = JSON.parse(event.data);
    if (answer.error) showMessage(answer.error, "socket");
    if (!("frame" in answer)) return;
    inFlight = false;
    if (answer.faces) showAnswer(answer);
    sendFrame();
  };
  socket.onclose = (event) => {
    inFlight = false;
    if (stream) {
      showMessage(`connection to the server closed (${event.code}); reconnecting…`, "socket");
      setTimeout(connect, 1000);
    }
  };
}

function sendSettings() {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({
      tta: $("#tta").value,
      smoothing: Number($("#smoothing").value),
      uncertain_below: Number($("#uncertain").value),
    }));
  }
}

function sendFrame() {
  if (!stream || inFlight || !socket || socket.readyState !== WebSocket.OPEN) return;
  if (!video.videoWidth) { setTimeout(sendFrame, 50); return; }
  const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
  grab.width = Math.round(video.videoWidth * scale);
  grab.height = Math.round(video.videoHeight * scale);
  grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
  inFlight = true;
  grab.toBlob((blob) => {
    if (blob && socket.readyState === WebSocket.OPEN) socket.send(blob);
    else inFlight = false;
  }, "image/jpeg", JPEG_QUALITY);
}

function showAnswer(answer) {
  const now = performance.now();
  if (lastAnswer) stats.fps = stats.fps ? 0.9 * stats.fps + 100 / (now - lastAnswer) : 1000 / (now - lastAnswer);
  lastAnswer = now;
  stats.frames += 1;
  stats.serverMs += answer.server_ms;
  window.ferLab.last = answer;
  $("#fps").textContent = `${stats.fps.toFixed(1)} FPS`;
  $("#server-ms").textContent = `${answer.server_ms.toFixed(0)} ms on the server`;
  overlay.width = answer.width;
  overlay.height = answer.height;
  drawFaces(overlay.getContext("2d"), answer.faces);
  listFaces($("#faces"), answer.faces);
  clearMessage("socket");
}

$("#camera").onclick = () => (stream ? stopCamera() : startCamera());
$("#tta").onchange = sendSettings;
$("#smoothing").oninput = () => {
  const value = Number($("#smoothing").value);
  $("#smoothing-value").textContent = value ? value.toFixed(1) : "off";
  sendSettings();
};
$("#uncertain").oninput = () => {
  const value = Number($("#uncertain").value);
  $("#uncertain-value").textContent = value ? value.toFixed(2) : "off";
  sendSettings();
};

// ---- uploads
$("#image-form").onsubmit = async (event) => {
  event.preventDefault();
  const file = event.target.file.files[0];
  if (!file) { showError("choose an image first", "upload"); return; }
  const body = new FormData();
  body.append("file", file);
  body.append("tta", $("#tta").value);
  body.append("uncertain_below", $("#uncertain").value);
  body.append("face_crop", $("#face-crop").checked ? "true" : "false");
  try {
    const result = await api("/api/image", { method: "POST", body });
    const canvas = $("#image-canvas");
    canvas.width = result.width;
    canvas.height = result.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(await createImageBitmap(file), 0, 0, result.width, result.height);
    drawFaces(ctx, result.faces);
    listFaces($("#image-faces"), result.faces);
    $("#image-json").textContent = JSON.stringify(result, null, 2);
    if (result.message) showMessage(result.message, "upload");
    else clearMessage("upload");
  } catch (err) {
    showError(err.message, "upload");
  }
};

$("#video-form").onsubmit = async (event) => {
  event.preventDefault();
  const file = event.target.file.files[0];
  if (!file) { showError("choose a video first", "upload"); return; }
  const body = new FormData();
  body.append("file", file);
  body.append("tta", $("#tta").value);
  body.append("smoothing", $("#smoothing").value);
  body.append("uncertain_below", $("#uncertain").value);
  const result = $("#video-result");
  result.textContent = "annotating…";
  try {
    const job = await api("/api/video", { method: "POST", body });
    result.innerHTML = `${job.frames} frames, ${job.faces} faces in ${job.seconds} s: ` +
      `<a id="video-link" href="${job.video}" download>annotated video</a> · ` +
      `<a id="csv-link" href="${job.csv}" download>faces CSV</a>` + (job.note ? ` (${job.note})` : "");
    clearMessage("upload");
  } catch (err) {
    showError(err.message, "upload");
  }
};

// ---- models
function describe(entry) {
  const scores = [["val", entry.val_accuracy], ["test", entry.test_accuracy]]
    .filter(([, value]) => value !== null).map(([split, value]) => `${split} accuracy ${value.toFixed(3)}`);
  return `${entry.name}${entry.version ? ` version ${entry.version}` : ""}` +
    `${entry.aliases.length ? ` @${entry.aliases.join(" @")}` : ""}${scores.length ? `: ${scores.join(", ")}` : ""}`;
}

async function loadModels() {
  const info = await api("/api/models");
  $("#serving").textContent = `serving ${describe(info.serving)}`;
  $("#serving").dataset.uri = info.serving.uri;
  $("#detector").textContent = info.settings.detector;
  const limits = info.limits_mb;
  $("#limits").textContent =
    `Limits: image ${limits.image} MB, video ${limits.video} MB, webcam frame ${limits.frame} MB.`;
  const score = (value) => (value === null ? "–" : value.toFixed(3));
  $("#models tbody").replaceChildren(...info.models.map((entry) => {
    const row = document.createElement("tr");
    const serving = entry.uri === info.serving.uri;
    row.className = serving ? "serving" : "";
    const button = document.createElement("button");
    Object.assign(button, { type: "button", textContent: serving ? "serving" : "serve", disabled: serving });
    button.dataset.uri = entry.uri;
    button.onclick = () => switchModel(entry.uri);
    const cells = [entry.name, entry.version || "", entry.aliases.join(", "), score(entry.val_accuracy),
                   score(entry.test_accuracy)]
      .map((text) => Object.assign(document.createElement("td"), { textContent: text }));
    const first = document.createElement("td");
    first.append(button);
    row.append(first, ...cells);
    return row;
  }));
  return info;
}

async function switchModel(uri) {
  showMessage(`loading ${uri}…`, "model");
  try {
    await api("/api/model", { method: "POST", headers: { "Content-Type": "application/json" },
                              body: JSON.stringify({ uri }) });
    await loadModels();
    clearMessage("model");
  } catch (err) {
    showError(err.message, "model");
  }
}

// ---- tabs and start
document.querySelectorAll("nav button").forEach((tab) => {
  tab.onclick = () => {
    document.querySelectorAll("nav button").forEach((other) => other.classList.toggle("active", other === tab));
    document.querySelectorAll("section").forEach((section) => { section.hidden = section.id !== tab.dataset.tab; });
  };
});

loadModels().then((info) => {
  $("#tta").value = info.settings.tta;
  $("#smoothing").value = info.settings.smoothing;
  $("#smoothing").oninput();
}).catch((err) => showMessage(err.message, "model")).finally(startCamera);
