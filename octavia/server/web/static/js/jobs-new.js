// The new-job page: files go straight to storage through the signed upload URL (XHR, for its
// upload progress), then the cost is estimated and the jobs created through /v1.
import { announce, apiFetch } from "./app.js";

const form = document.getElementById("new-job");
const msgs = document.getElementById("messages").dataset;
const list = document.getElementById("file-list");
const filesError = document.getElementById("files-error");
const createError = document.getElementById("create-error");
const estimate = document.getElementById("estimate");
const createButton = document.getElementById("create");
const input = document.getElementById("files");
const zone = document.getElementById("drop-zone");
const maxBytes = Number(form.dataset.maxBytes);
const types = form.dataset.types.split(",").filter(Boolean);
const MiB = 1048576;
/** @type {{file: File, row: HTMLElement, id: string|null, state: string}[]} */
const entries = [];

const fmt = (template, params) => template.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ""));

function typeAllowed(type) {
  const t = (type || "").toLowerCase();
  return types.some((a) => (a.endsWith("/") ? t.startsWith(a) : t === a));
}

function showError(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || response.statusText;
  } catch {
    return response.statusText || String(response.status);
  }
}

function sendBytes(target, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, target.url);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) onProgress(Math.round((100 * e.loaded) / e.total));
    });
    xhr.addEventListener("load", () => (xhr.status < 300 ? resolve() : reject(new Error(`HTTP ${xhr.status}`))));
    xhr.addEventListener("error", () => reject(new Error("network error")));
    if (target.method === "PUT") {
      for (const [k, v] of Object.entries(target.headers || {})) xhr.setRequestHeader(k, v);
      xhr.send(file);
    } else {
      const data = new FormData();
      for (const [k, v] of Object.entries(target.fields || {})) data.append(k, v);
      data.append("file", file);
      xhr.send(data);
    }
  });
}

function setRow(entry, state, text, percent) {
  entry.state = state;
  entry.row.querySelector(".file-state").textContent = text;
  if (percent !== undefined) entry.row.querySelector("progress").value = percent;
}

async function upload(entry) {
  const { file } = entry;
  const type = file.type || "application/octet-stream";
  try {
    const created = await apiFetch("/v1/uploads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ filename: file.name, content_type: type, size: file.size }),
    });
    if (!created.ok) throw new Error(await problemText(created));
    const { upload: up, target } = await created.json();
    await sendBytes(target, file, (p) => setRow(entry, "uploading", fmt(msgs.uploading, { percent: p }), p));
    setRow(entry, "checking", msgs.checking, 100);
    const done = await apiFetch(`/v1/uploads/${up.id}/complete`, { method: "POST" });
    if (!done.ok) throw new Error(await problemText(done));
    const ready = await done.json();
    if (ready.status !== "ready") {
      setRow(entry, "error", fmt(msgs.rejected, { name: file.name, reason: ready.error || ready.status }));
      return;
    }
    entry.id = ready.id;
    setRow(entry, "ready", fmt(msgs.ready, { duration: Math.round(ready.duration) }), 100);
    announce(`${file.name}: ${entry.row.querySelector(".file-state").textContent}`);
  } catch (err) {
    setRow(entry, "error", fmt(msgs.uploadFailed, { name: file.name, reason: err.message }));
  }
  refresh();
}

function addFiles(files) {
  const problems = [];
  for (const file of files) {
    const row = document.getElementById("file-row").content.firstElementChild.cloneNode(true);
    row.querySelector(".file-name").textContent = file.name;
    row.querySelector(".file-size").textContent = `${(file.size / MiB).toFixed(1)} MiB`;
    list.append(row);
    const entry = { file, row, id: null, state: "new" };
    entries.push(entry);
    if (file.size > maxBytes) {
      const text = fmt(msgs.tooBig, { name: file.name, size: (file.size / MiB).toFixed(1), limit: Math.floor(maxBytes / MiB) });
      setRow(entry, "error", text);
      problems.push(text);
    } else if (!typeAllowed(file.type)) {
      const text = fmt(msgs.badType, { name: file.name, type: file.type || "?" });
      setRow(entry, "error", text);
      problems.push(text);
    } else {
      upload(entry);
    }
  }
  showError(filesError, problems.join(" "));
  refresh();
}

function choice() {
  const make = form.querySelector('input[name="make"]:checked').value;
  const kind = { subtitles: "subtitle", "translated-subtitles": "subtitle" }[make] || make;
  const languages = make === "subtitles" ? [] : [...form.querySelectorAll('input[name="languages"]:checked')].map((i) => i.value);
  return { make, kind, languages };
}

function jobBody(uploadId) {
  const { kind, languages } = choice();
  const options = {};
  const model = form.whisper_model.value;
  if (model) options.whisper_model = model;
  if (kind !== "subtitle") {
    if (form.voice.value) options.voice = form.voice.value;
    if (form.review.checked) options.review = true;
  }
  const formats = [...form.querySelectorAll('input[name="formats"]:checked')].map((i) => i.value);
  const body = { kind, upload_id: uploadId, languages, formats: formats.length ? formats : ["srt"], options };
  if (form.source_language.value) body.source_language = form.source_language.value;
  return body;
}

let estimateRun = 0;
async function refresh() {
  const { make, languages } = choice();
  document.getElementById("speech-options").hidden = !["translate-audio", "dub"].includes(make);
  document.getElementById("targets").hidden = make === "subtitles";
  const ready = entries.filter((e) => e.state === "ready");
  const pending = entries.some((e) => ["new", "uploading", "checking"].includes(e.state));
  const needsTargets = make !== "subtitles" && languages.length === 0;
  createButton.disabled = !ready.length || pending || needsTargets;
  if (needsTargets && ready.length) {
    estimate.textContent = msgs.noTargets;
    return;
  }
  if (!ready.length || pending) return;
  const run = ++estimateRun;
  let cost = 0;
  let minutes = 0;
  let balance = 0;
  for (const e of ready) {
    const { kind, upload_id, languages: langs, source_language } = jobBody(e.id);
    const r = await apiFetch("/v1/jobs/estimate", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ kind, upload_id, languages: langs, source_language }),
    });
    if (!r.ok) {
      if (run === estimateRun) estimate.textContent = await problemText(r);
      return;
    }
    const got = await r.json();
    cost += got.cost;
    minutes += got.minutes;
    balance = got.balance;
  }
  if (run !== estimateRun) return;
  estimate.textContent = fmt(msgs.estimate, { cost, minutes, balance });
  if (cost > balance) showShort(cost - balance);
}

function showShort(count) {
  const p = document.createElement("span");
  p.textContent = ` ${fmt(msgs.short, { count })} `;
  const a = document.createElement("a");
  a.href = "/credits";
  a.textContent = msgs.buy;
  a.id = "buy-credits";
  estimate.append(p, a);
}

form.addEventListener("change", (e) => {
  if (e.target !== input) refresh();
});
input.addEventListener("change", () => {
  addFiles([...input.files]);
  input.value = "";
});
for (const type of ["dragenter", "dragover"]) {
  zone.addEventListener(type, (e) => {
    e.preventDefault();
    zone.classList.add("dragging");
  });
}
for (const type of ["dragleave", "drop"]) {
  zone.addEventListener(type, () => zone.classList.remove("dragging"));
}
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  addFiles([...e.dataTransfer.files]);
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  showError(createError, "");
  const ready = entries.filter((x) => x.state === "ready");
  if (!ready.length) {
    showError(createError, msgs.noFiles);
    return;
  }
  createButton.disabled = true;
  announce(msgs.creating);
  const made = [];
  for (const entry of ready) {
    const r = await apiFetch("/v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": `web-${entry.id}-${crypto.randomUUID()}` },
      body: JSON.stringify(jobBody(entry.id)),
    });
    if (r.status === 402) {
      const body = await r.json();
      showError(createError, fmt(msgs.short, { count: body.shortfall ?? "?" }));
      const a = document.createElement("a");
      a.href = "/credits";
      a.textContent = ` ${msgs.buy}`;
      createError.append(a);
      createButton.disabled = false;
      return;
    }
    if (!r.ok) {
      showError(createError, fmt(msgs.failed, { reason: await problemText(r) }));
      createButton.disabled = false;
      return;
    }
    made.push((await r.json()).id);
    entry.state = "used";
  }
  announce(msgs.created);
  window.location.assign(made.length === 1 ? `/jobs/${made[0]}` : "/");
});

refresh();
