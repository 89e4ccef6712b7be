// The player page /watch/{id}: native <video> controls plus what they lack: a buffering
// indicator, keyboard shortcuts, resume, previous/next in the folder, subtitles, seek
// previews and the seek heat map, and clear messages instead of a dead player.
import { collator, el, fetchJSON, fmtDuration, fmtResolution, fmtSize, isTyping, loadCards } from "./common.js";
import { SeekBar } from "./seekbar.js";
import { DevStats, SeekReporter, StatsSource } from "./devstats.js";

const $ = (id) => document.getElementById(id);
const sentence = (s) => (s ? s[0].toUpperCase() + s.slice(1) : "");
const video = $("player");
const id = location.pathname.split("/").filter(Boolean).pop();
const RESUME_KEY = `mediaserve:resume:${id}`;
const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 3];

const CODEC_NAMES = { h264: "H.264", hevc: "HEVC (H.265)", vp9: "VP9", vp8: "VP8", av1: "AV1",
  mpeg4: "MPEG-4 Part 2", mpeg2video: "MPEG-2", wmv3: "WMV", vc1: "VC-1", theora: "Theora",
  aac: "AAC", mp3: "MP3", opus: "Opus", vorbis: "Vorbis", flac: "FLAC", ac3: "AC-3",
  eac3: "E-AC-3", dts: "DTS", truehd: "TrueHD" };
const VIDEO_CODECS = { h264: "avc1.640028", hevc: "hvc1.1.6.L120.90", av1: "av01.0.05M.08",
  mpeg4: "mp4v.20.8", theora: "theora", vp8: "vp8" };
const AUDIO_CODECS = { aac: "mp4a.40.2", mp3: "mp4a.69", opus: "opus", vorbis: "vorbis",
  flac: "flac", ac3: "ac-3", eac3: "ec-3", dts: "dtsc" };
const NEVER = new Set(["mpeg2video", "wmv1", "wmv2", "wmv3", "vc1", "msmpeg4v3", "truehd"]);

function showMessage(text, actions = []) {
  const box = $("message");
  box.replaceChildren(el("p", { text }), ...actions);
  box.hidden = false;
  $("buffering").hidden = true;
}

// Can this browser decode the video's codecs? true / false / null (cannot tell).
function codecCheck(doc) {
  const webm = /webm|matroska/.test(doc.content_type || "");
  const base = webm ? "video/webm" : "video/mp4";
  const probe = (codec, table) => {
    if (!codec) return null;
    if (NEVER.has(codec)) return false;
    let name = table[codec];
    if (codec === "vp9") name = webm ? "vp9" : "vp09.00.10.08";
    if (codec === "mp3" && webm) return null;
    if (!name) return null;
    return video.canPlayType(`${base}; codecs="${name}"`) !== "";
  };
  return { video: probe(doc.video_codec, VIDEO_CODECS), audio: probe(doc.audio_codec, AUDIO_CODECS) };
}

function blocker(doc) {
  const findings = doc.findings || [];
  if (doc.status === "missing" || findings.some((f) => f.code === "missing")) {
    return { text: `The file is missing from disk (${doc.path}). Restore it, or run \`mediaserve audit\` to remove it from the library.`, retry: false };
  }
  const errors = findings.filter((f) => f.severity === "error");
  if (errors.length) {
    return { text: `This video has problems and will probably not play: ${errors.map((f) => f.message).join("; ")}. ${sentence(errors[0].fix)}`.trim(), retry: true };
  }
  const support = codecCheck(doc);
  if (support.video === false) {
    const fix = findings.find((f) => f.code === "unplayable");
    return { text: `This browser cannot decode ${CODEC_NAMES[doc.video_codec] || doc.video_codec} video: you would hear the sound over a black picture. ${fix ? sentence(fix.fix) + "." : "Transcode it to H.264 or VP9, or download it and use a desktop player."}`, retry: true, codec: true };
  }
  return null;
}

function renderFacts(doc) {
  const rows = [
    ["Duration", fmtDuration(doc.duration)],
    ["Resolution", fmtResolution(doc.width, doc.height)],
    ["Video", [CODEC_NAMES[doc.video_codec] || doc.video_codec, doc.frame_rate && `${+doc.frame_rate.toFixed(3)} fps`].filter(Boolean).join(", ")],
    ["Audio", CODEC_NAMES[doc.audio_codec] || doc.audio_codec || "none"],
    ["Size", fmtSize(doc.size)],
    ["Bit rate", !doc.bit_rate ? "" : doc.bit_rate >= 1e6 ? `${(doc.bit_rate / 1e6).toFixed(1)} Mbit/s` : `${Math.round(doc.bit_rate / 1e3)} kbit/s`],
    ["Container", doc.container || ""],
    ["File", doc.path],
  ];
  const list = $("facts");
  for (const [name, value] of rows) if (value) list.append(el("dt", { text: name }), el("dd", { text: value }));
  const link = $("download");
  link.href = doc.stream_url;
  link.download = doc.name;
  link.textContent = `Download (${fmtSize(doc.size)})`;
  for (const f of doc.findings || []) {
    $("findings").append(el("li", { class: f.severity }, el("strong", { text: `${f.severity}: ` }), `${f.message}. ${sentence(f.fix)}`));
  }
}

async function siblings(doc) {
  const folder = doc.path.includes("/") ? doc.path.slice(0, doc.path.lastIndexOf("/")) : "";
  let all;
  try { all = await loadCards(); } catch { return; }
  const here = all.filter((v) => v.folder === folder)
    .sort((a, b) => collator.compare(a.title, b.title) || collator.compare(a.name, b.name));
  const at = here.findIndex((v) => v.id === doc.id);
  if (at < 0) return;
  $("position").textContent = `${at + 1} of ${here.length}${folder ? ` in ${folder}` : ""}`;
  for (const [link, other] of [[$("prev"), here[at - 1]], [$("next"), here[at + 1]]]) {
    if (!other) continue;
    link.href = `/watch/${other.id}`;
    link.title = other.title;
    link.hidden = false;
  }
}

// ---- resume -------------------------------------------------------------------------
function savePosition() {
  const t = video.currentTime, d = video.duration;
  if (!isFinite(d) || d <= 0) return;
  // nothing to resume at the very start or in the last seconds (the credits)
  if (t < 5 || t > d - Math.min(10, d * 0.05)) localStorage.removeItem(RESUME_KEY);
  else localStorage.setItem(RESUME_KEY, JSON.stringify({ t, d, at: Date.now() }));
}

function offerResume() {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(RESUME_KEY)); } catch { saved = null; }
  if (!saved || !(saved.t > 0)) return;
  $("resume-text").textContent = `You stopped at ${fmtDuration(saved.t)}.`;
  $("resume-yes").textContent = `Resume from ${fmtDuration(saved.t)}`;
  $("resume").hidden = false;
  $("resume-yes").addEventListener("click", () => {
    video.currentTime = saved.t;
    $("resume").hidden = true;
    video.play().catch(() => {});
  });
  $("resume-no").addEventListener("click", () => {
    localStorage.removeItem(RESUME_KEY);
    $("resume").hidden = true;
  });
}

// ---- keyboard -------------------------------------------------------------------------
function onKey(event, devstats) {
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  const onButton = event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement
    || event.target instanceof HTMLElement && event.target.tagName === "SUMMARY";
  const seek = (delta) => {
    const end = isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.min(Math.max(0, video.currentTime + delta), end);
  };
  const speed = (step) => {
    const at = SPEEDS.findIndex((s) => s >= video.playbackRate - 1e-9);
    video.playbackRate = SPEEDS[Math.min(Math.max(0, (at < 0 ? 3 : at) + step), SPEEDS.length - 1)];
  };
  const key = event.key;
  if (key === " " && !onButton) video.paused ? video.play().catch(() => {}) : video.pause();
  else if (key === "ArrowLeft") seek(-5);
  else if (key === "ArrowRight") seek(5);
  else if (key === "j" || key === "J") seek(-10);
  else if (key === "l" || key === "L") seek(10);
  else if (key === "f" || key === "F") {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else $("player").closest(".video-box").requestFullscreen().catch(() => {});
  } else if (key === "m" || key === "M") video.muted = !video.muted;
  else if (key === "<" || key === ",") speed(-1);
  else if (key === ">" || key === ".") speed(1);
  else if (key === "d" || key === "D") devstats.toggle();
  else if (key === "N" && event.shiftKey && !$("next").hidden) location.href = $("next").href;
  else if (key === "P" && event.shiftKey && !$("prev").hidden) location.href = $("prev").href;
  else return;
  event.preventDefault();
  event.stopPropagation();
}

// ---- playback -------------------------------------------------------------------------
function start(doc, stats) {
  $("message").hidden = true;
  video.poster = doc.poster_url;
  for (const [i, sub] of (doc.subtitles || []).entries()) {
    video.append(el("track", { kind: "subtitles", src: sub.url, label: sub.label,
                               srclang: sub.srclang || null, "data-index": i }));
  }
  let slow = null;
  const busy = () => { clearTimeout(slow); slow = setTimeout(() => { $("buffering").hidden = false; }, 150); };
  const idle = () => { clearTimeout(slow); $("buffering").hidden = true; };
  video.addEventListener("waiting", busy);
  for (const name of ["playing", "canplay", "seeked", "pause", "error", "loadeddata", "ended"]) video.addEventListener(name, idle);
  video.addEventListener("loadedmetadata", () => {
    if (doc.video_codec && video.videoWidth === 0) {
      video.pause();
      showMessage(`This browser cannot show the picture of this video (${CODEC_NAMES[doc.video_codec] || doc.video_codec}): it would play sound over black. Transcode it to H.264 or VP9, or download it.`);
    }
  });
  video.addEventListener("error", async () => {
    const code = video.error ? video.error.code : 0;
    const again = await fetchJSON(`/api/videos/${id}`);
    if (again.ok && again.body.status === "missing") showMessage("The file went missing from disk while it was open.");
    else if (code === 4) showMessage("This browser cannot play this file's format or codecs. Download it and use a desktop player, or transcode it to H.264/AAC MP4.");
    else if (code === 3) showMessage("The video could not be decoded: the file may be damaged.");
    else showMessage("The video stopped loading (network error). Reload the page to try again.");
  });
  let last = 0;
  video.addEventListener("timeupdate", () => {
    if (Math.abs(video.currentTime - last) >= 5) { last = video.currentTime; savePosition(); }
  });
  video.addEventListener("pause", savePosition);
  video.addEventListener("ended", () => localStorage.removeItem(RESUME_KEY));
  window.addEventListener("pagehide", savePosition);
  const reporter = new SeekReporter(id, stats);
  video.addEventListener("seeking", () => reporter.add(video.currentTime));
  const bar = new SeekBar(video, id, doc.duration, stats, !!(doc.video_codec && doc.duration));
  reporter.onFlushed = () => bar.refreshHeat();
  bar.start();
  video.src = doc.stream_url;
  offerResume();
}

async function main() {
  const stats = new StatsSource(id);
  const devstats = new DevStats(video, stats);
  window.addEventListener("keydown", (event) => onKey(event, devstats), { capture: true });
  const { ok, status, body: doc } = await fetchJSON(`/api/videos/${id}`);
  if (!ok) {
    $("title").textContent = status === 404 ? "Not in the library" : "Cannot load this video";
    showMessage(status === 404 ? "This video is not in the library (it may have been removed). Go back to the library to pick another."
      : `The server answered HTTP ${status}${doc && doc.error ? `: ${doc.error}` : ""}.`);
    return;
  }
  document.title = `${doc.title} · mediaserve`;
  $("title").textContent = doc.title;
  renderFacts(doc);
  siblings(doc);
  const stop = blocker(doc);
  if (!stop) { start(doc, stats); return; }
  const actions = [];
  if (stop.retry) {
    const tryIt = el("button", { type: "button", text: "Try to play it anyway" });
    tryIt.addEventListener("click", () => start(doc, stats), { once: true });
    actions.push(tryIt);
  }
  actions.push(el("a", { class: "button", href: doc.stream_url, download: doc.name, text: "Download the file" }));
  showMessage(stop.text, actions);
  document.body.dataset.blocked = stop.codec ? "codec" : doc.status === "missing" ? "missing" : "error";
}

main();
