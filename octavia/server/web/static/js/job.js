// The job page: live progress from the job's server-sent events, and the audio-track selector.
import { announce } from "./app.js";

const box = document.getElementById("job");
const fmt = (template, params) => template.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ""));

function stageRow(stage) {
  const list = document.getElementById("stages");
  let row = [...list.children].find((li) => li.dataset.stage === stage);
  if (!row) {
    row = document.createElement("li");
    row.dataset.stage = stage;
    const name = document.createElement("span");
    name.className = "stage-name";
    name.textContent = stage;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", stage);
    row.append(name, bar);
    list.append(row);
  }
  return row.querySelector("progress");
}

function follow() {
  const status = box.dataset.status;
  if (!["queued", "running"].includes(status)) return;
  // Start after the events already shown; on a dropped connection the browser reconnects by
  // itself and sends Last-Event-ID, which the server resumes from (nothing lost or repeated).
  const after = box.dataset.lastEvent || "0";
  const source = new EventSource(`/v1/jobs/${box.dataset.jobId}/events?after=${after}`);
  let lastSaid = 0;
  source.addEventListener("started", () => {
    document.getElementById("job-status").textContent = box.dataset.msgRunning || "…";
  });
  source.addEventListener("progress", (e) => {
    const data = JSON.parse(e.data);
    const percent = Math.round(100 * (data.fraction ?? 0));
    stageRow(data.stage).value = percent;
    document.getElementById("job-stage").textContent = `(${data.stage})`;
    const now = Date.now();
    if (now - lastSaid > 5000 || percent === 100) {
      lastSaid = now;
      announce(fmt(box.dataset.msgProgress, { stage: data.stage, percent }));
    }
  });
  const end = { done: "msgDone", failed: "msgFailed", cancelled: "msgCancelled", review: "msgReview" };
  for (const [type, key] of Object.entries(end)) {
    source.addEventListener(type, () => {
      source.close();
      announce(box.dataset[key]);
      window.setTimeout(() => window.location.reload(), 400);
    });
  }
}

// Audio: browsers that expose the file's audio tracks (videoElement.audioTracks) switch
// between them; the others (Chromium and Firefox by default) swap the video's source between
// the dubbed video (dub first) and the original upload (original audio), keeping the time.
function audioSelector() {
  const video = document.getElementById("player");
  const select = document.getElementById("audio-track");
  if (!video || !select) return;
  const tracks = video.audioTracks;
  if (tracks && tracks.length >= 2) {
    select.replaceChildren(
      ...[...tracks].map((track, i) => new Option(track.label || track.language || `${i + 1}`, String(i))),
    );
    select.dataset.mode = "tracks";
    select.addEventListener("change", () => {
      [...tracks].forEach((track, i) => {
        track.enabled = String(i) === select.value;
      });
    });
    return;
  }
  select.dataset.mode = "sources";
  select.addEventListener("change", () => {
    const url = select.value === "original" ? video.dataset.original : video.dataset.dub;
    if (!url) return;
    const at = video.currentTime;
    const playing = !video.paused;
    video.src = url;
    video.addEventListener(
      "loadedmetadata",
      () => {
        video.currentTime = at;
        if (playing) video.play();
      },
      { once: true },
    );
  });
}

follow();
audioSelector();
