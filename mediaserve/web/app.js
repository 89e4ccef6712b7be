// The library page: list /api/videos, play one in a <video> that seeks with Range requests.
"use strict";

const fmtSize = (n) => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
};
const fmtDuration = (s) => {
  if (s == null) return "";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function play(video) {
  const pane = document.getElementById("player-pane");
  const player = document.getElementById("player");
  pane.hidden = false;
  player.src = video.stream_url;
  document.getElementById("now-playing").textContent = video.name;
  const list = document.getElementById("findings");
  list.replaceChildren();
  for (const f of video.findings || []) {
    const li = document.createElement("li");
    li.className = f.severity;
    li.textContent = `${f.severity}: ${f.message}`;
    list.append(li);
  }
  history.replaceState(null, "", "#" + video.id);
}

async function load() {
  const res = await fetch("/api/videos");
  const data = await res.json();
  document.getElementById("summary").textContent = `${data.count} videos`;
  const body = document.querySelector("#library tbody");
  for (const v of data.videos) {
    const tr = document.createElement("tr");
    tr.dataset.id = v.id;
    tr.append(
      cell(v.path),
      cell(fmtDuration(v.duration), "num"),
      cell(fmtSize(v.size), "num"),
      cell([v.video_codec, v.width && `${v.width}x${v.height}`].filter(Boolean).join(" ")),
      cell(v.audio_codec || ""),
      cell(v.status, "status-" + v.status),
    );
    tr.addEventListener("click", () => play(v));
    body.append(tr);
  }
  const wanted = location.hash.slice(1);
  const first = data.videos.find((v) => v.id === wanted);
  if (first) play(first);
}

load();
