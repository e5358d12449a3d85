"use strict";
// Lists the segments from /api/recordings; "play" loads the MP4 copy into the player.
// recordings?play=NAME plays that segment at once.
const body = document.getElementById("segments");
const player = document.getElementById("player");

function size(bytes) {
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (bytes >= 1000 && i < units.length - 1) { bytes /= 1000; i += 1; }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function length(seconds) {
  if (seconds === null) return "-";
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - 60 * m).toFixed(1).padStart(4, "0")}`;
}

function cell(row, value, cls) {
  const td = row.insertCell();
  if (value instanceof Node) td.append(value); else td.textContent = value;
  if (cls) td.className = cls;
}

function play(segment) {
  document.getElementById("playing").textContent = `${segment.name}`;
  player.src = segment.play;
  player.play().catch(() => {});  // autoplay may be refused; the controls are there
}

async function load() {
  const reply = await fetch("api/recordings", {cache: "no-store"}).then((r) => r.json());
  body.replaceChildren();
  for (const segment of reply.segments) {
    const row = body.insertRow();
    cell(row, segment.started ? segment.started.replace("T", " ") : segment.name);
    cell(row, segment.recording ? "recording" : length(segment.duration_s), "num");
    cell(row, size(segment.size_bytes), "num");
    const download = Object.assign(document.createElement("a"),
      {href: segment.download, textContent: "download", className: "button"});
    download.setAttribute("download", segment.name);
    cell(row, download);
    const button = Object.assign(document.createElement("button"), {textContent: "play"});
    button.disabled = !segment.play;
    button.addEventListener("click", () => play(segment));
    cell(row, button);
  }
  if (!reply.segments.length) body.innerHTML = "<tr><td colspan=5>no recordings yet</td></tr>";
  const wanted = new URLSearchParams(location.search).get("play");
  const chosen = reply.segments.find((s) => s.name === wanted && s.play);
  if (chosen && !player.src) play(chosen);
}

load();
