"use strict";
// Refreshes the status and the legend once a second from /api/stats and /api/classes.
const $ = (id) => document.getElementById(id);
const PERIOD_MS = 1000;

function text(id, value) { $(id).textContent = value; }

function board(t) {
  const parts = [];
  if (t.cpu_percent !== undefined) parts.push(`CPU ${t.cpu_percent.toFixed(0)}%`);
  if (t.gpu_percent !== undefined) parts.push(`GPU ${t.gpu_percent.toFixed(0)}%`);
  if (t.temp_c !== undefined) parts.push(`${t.temp_c.toFixed(0)} °C`);
  if (t.power_w !== undefined) parts.push(`${t.power_w.toFixed(1)} W`);
  if (t.ram_percent !== undefined) parts.push(`RAM ${t.ram_percent.toFixed(0)}%`);
  return parts.join("  ") || "-";
}

// A recording that is on but stopped (low disk, error) says so in red, with the reason.
const STOPPED = {low_disk: "STOPPED: low disk", error: "STOPPED: error"};

function showRecording(r) {
  const el = $("recording");
  let line = "stopped";
  if (!r.enabled) line = "off";
  else if (r.active) line = `on: ${r.segment || "starting"}`;
  else if (r.state === "waiting") line = "waiting for the first frame";
  else if (STOPPED[r.state]) line = STOPPED[r.state];
  if (STOPPED[r.state] && r.reason) line += ` (${r.reason})`;
  el.textContent = line;
  el.className = STOPPED[r.state] ? "stopped" : "";
}

function showStats(s) {
  const camera = $("camera");
  camera.textContent = s.camera;
  camera.className = s.camera;
  $("view").classList.toggle("offline", s.camera === "offline");
  text("fps", s.output_fps !== undefined ? `${s.output_fps.toFixed(1)} FPS` : "-");
  const e2e = s.latency.capture_to_output;
  text("latency", e2e ? `${e2e.p50_ms.toFixed(0)} ms (p95 ${e2e.p95_ms.toFixed(0)} ms)` : "-");
  const drops = Object.entries(s.drops).map(([k, v]) => `${k} ${v}`).join(", ");
  text("drops", drops || "0");
  text("frames", `${s.frames.output} out of ${s.frames.captured} captured`);
  text("backend", s.backend);
  text("source", s.source);
  showRecording(s.recording);
  text("board", board(s.telemetry));
  text("uptime", `${Math.floor(s.uptime_s)} s`);
}

function showClasses(c) {
  const list = $("legend");
  const items = c.classes.map((k) => {
    const share = k.fraction === undefined ? "" : `${(100 * k.fraction).toFixed(1)}%`;
    return `<li><span class="swatch" style="background:${k.color}"></span>` +
      `<span class="name"></span><span class="share">${share}</span></li>`;
  });
  list.innerHTML = items.join("");
  // Names through textContent: a class name is never parsed as HTML.
  list.querySelectorAll(".name").forEach((el, i) => { el.textContent = c.classes[i].name; });
}

async function refresh() {
  try {
    const [stats, classes] = await Promise.all([
      fetch("api/stats", {cache: "no-store"}).then((r) => r.json()),
      fetch("api/classes", {cache: "no-store"}).then((r) => r.json()),
    ]);
    showStats(stats);
    showClasses(classes);
  } catch (error) {
    text("camera", "app not answering");
    $("camera").className = "offline";
  }
}

// A stream that ended (app restarted, network blip) is reopened.
$("live").addEventListener("error", () => {
  setTimeout(() => { $("live").src = `stream.mjpg?t=${Date.now()}`; }, 2000);
});
refresh();
setInterval(refresh, PERIOD_MS);
