// The player page /watch/{id}: asks the server how this browser should play the video (the
// plan, from what the browser decodes: caps.js), plays it (playback.js: the file itself or
// HLS), and adds what the native controls lack: a buffering indicator, keyboard shortcuts
// (keys.js), resume everywhere and the watched mark (resume.js, with the profile's state:
// profile.js), previous/next across a show's seasons and the next episode by itself
// (episodes.js), the subtitles button (subs.js), seek previews and the seek heat map
// (seekbar.js), the quality menu (quality.js), the `d` overlay (devstats.js), and clear
// messages instead of a dead player (messages.js).
import { el, fetchJSON, fmtDuration, fmtResolution, fmtSize } from "./common.js";
import { SeekBar } from "./seekbar.js";
import { DevStats, SeekReporter, StatsSource } from "./devstats.js";
import { capsDescriptor } from "./caps.js";
import { Playback } from "./playback.js";
import { QualityMenu, rememberedQuality } from "./quality.js";
import { Resume } from "./resume.js";
import { Episodes, carriedOn } from "./episodes.js";
import { loadProfile } from "./profile.js";
import { Subtitles } from "./subs.js";
import { onKey } from "./keys.js";
import { busyText, failedText, hideMessage, planMessage, planNote, showMessage } from "./messages.js";

const $ = (id) => document.getElementById(id);
const sentence = (s) => (s ? s[0].toUpperCase() + s.slice(1) : "");
const video = $("player");
const id = location.pathname.split("/").filter(Boolean).pop();
const ID_RE = /^[0-9a-f]{12,64}$/;

const CODEC_NAMES = { h264: "H.264", hevc: "HEVC (H.265)", vp9: "VP9", vp8: "VP8", av1: "AV1",
  mpeg4: "MPEG-4 Part 2", mpeg2video: "MPEG-2", wmv3: "WMV", vc1: "VC-1", theora: "Theora",
  aac: "AAC", mp3: "MP3", opus: "Opus", vorbis: "Vorbis", flac: "FLAC", ac3: "AC-3",
  eac3: "E-AC-3", dts: "DTS", truehd: "TrueHD" };
const codecName = (c) => CODEC_NAMES[c] || c;

// A file gone from disk: nothing to play or download, so the page says so and links back.
const missing = (doc) => doc.status === "missing" || (doc.findings || []).some((f) => f.code === "missing");

// What stops the player before it starts: audit errors, or a plan this browser cannot
// follow. {text, kind, retry} or null.
function blocker(doc) {
  const errors = (doc.findings || []).filter((f) => f.severity === "error");
  if (errors.length) {
    return { text: `This video has problems and will probably not play: ${errors.map((f) => f.message).join("; ")}. ${sentence(errors[0].fix)}`.trim(), kind: "error", retry: true };
  }
  const refused = planMessage(doc.playback);
  return refused ? { ...refused, retry: true } : null;
}

function renderFacts(doc) {
  const rows = [
    ["Duration", fmtDuration(doc.duration)],
    ["Resolution", fmtResolution(doc.width, doc.height)],
    ["Video", [codecName(doc.video_codec), doc.frame_rate && `${+doc.frame_rate.toFixed(3)} fps`].filter(Boolean).join(", ")],
    ["Audio", codecName(doc.audio_codec) || "none"],
    ["Size", fmtSize(doc.size)],
    ["Bit rate", !doc.bit_rate ? "" : doc.bit_rate >= 1e6 ? `${(doc.bit_rate / 1e6).toFixed(1)} Mbit/s` : `${Math.round(doc.bit_rate / 1e3)} kbit/s`],
    ["Container", doc.container || ""],
    ["Playback", planNote(doc.playback)],
    ["File", doc.path],
  ];
  const list = $("facts");
  for (const [name, value] of rows) if (value) list.append(el("dt", { text: name }), el("dd", { text: value }));
  document.querySelector(".details").hidden = false;
  const link = $("download");
  link.href = doc.stream_url;
  link.download = doc.name;
  link.textContent = `Download (${fmtSize(doc.size)})`;
  for (const f of doc.findings || []) {
    $("findings").append(el("li", { class: f.severity }, el("strong", { text: `${f.severity}: ` }), `${f.message}. ${sentence(f.fix)}`));
  }
}

function buffering() {
  let slow = null;
  const busy = () => { clearTimeout(slow); slow = setTimeout(() => { $("buffering").hidden = false; }, 150); };
  const idle = () => { clearTimeout(slow); $("buffering").hidden = true; };
  video.addEventListener("waiting", busy);
  for (const name of ["playing", "canplay", "seeked", "pause", "error", "loadeddata", "ended"]) video.addEventListener(name, idle);
}

// Why a stream failed, in the server's words when it gave any (a JSON {"error"}).
async function explainFailure(url) {
  if (!url) return failedText(null);
  try {
    const { status, body } = await fetchJSON(url, { cache: "no-store" });
    if (body && body.error) return failedText(body.error);
    return `The converted stream stopped loading (HTTP ${status}). Reload the page to try again.`;
  } catch {
    return "The converted stream stopped loading (network error). Reload the page to try again.";
  }
}

// The file itself failed in a browser that said it would play it: play a converted copy
// when the server offers one, else say what failed.
function directFailed(playback, doc, what) {
  if (playback.engine !== "direct") return;
  if (playback.plan.converted_url) {
    video.dataset.fallback = what;
    playback.use("auto", video.currentTime || 0);
    return;
  }
  video.pause();
  showMessage(what === "picture"
    ? `This browser cannot show the picture of this video (${codecName(doc.video_codec)}) though it said it could, and this server converts nothing. Download it and use a desktop player.`
    : "This browser cannot play this file's format or codecs, and this server converts nothing. Download it and use a desktop player.");
}

function start(doc, stats, playback, menu) {
  hideMessage();
  video.poster = doc.poster_url;
  for (const [i, sub] of (doc.subtitles || []).entries()) {
    video.append(el("track", { kind: "subtitles", src: sub.url, label: sub.label,
                               srclang: sub.srclang || null, "data-index": i }));
  }
  new Subtitles(video).start();
  buffering();
  video.addEventListener("loadedmetadata", () => {
    if (doc.video_codec && video.videoWidth === 0) directFailed(playback, doc, "picture");
  });
  video.addEventListener("error", async () => {
    const code = video.error ? video.error.code : 0;
    if (playback.engine === "hls.js") return;  // hls.js reports its own errors
    const again = await fetchJSON(`/api/videos/${id}`);
    if (again.ok && again.body.status === "missing") showMessage("The file went missing from disk while it was open.");
    else if (code === 4) directFailed(playback, doc, "format");
    else if (code === 3) showMessage("The video could not be decoded: the file may be damaged.");
    else showMessage("The video stopped loading (network error). Reload the page to try again.");
  });
  const resume = new Resume(video, id, (t) => playback.seekWhenReady(t));
  resume.watch();
  const reporter = new SeekReporter(id, stats);
  video.addEventListener("seeking", () => reporter.add(video.currentTime));
  const bar = new SeekBar(video, id, doc.duration, stats, !!(doc.video_codec && doc.duration));
  reporter.onFlushed = () => bar.refreshHeat();
  bar.start();
  playback.use(playback.initialChoice(rememberedQuality()), 0).then(() => menu.render(playback.choices(), playback.choice));
  if (carriedOn(id)) resume.carryOn();  // the next episode, by itself
  else resume.offer();
}

// A page with nothing to play: says why, with the way back, and no player or Download.
function dead(title, text, kind) {
  document.title = `${title} · mediaserve`;
  $("title").textContent = title;
  document.body.dataset.dead = kind;
  for (const name of ["stage", "details"]) document.querySelector(`.${name}`).hidden = true;
  const box = $("message");
  box.replaceChildren(el("p", { text }), el("a", { class: "button", href: "/", text: "Back to the library" }));
  box.hidden = false;
  document.querySelector(".watch").prepend(box);
}

async function main() {
  const stats = new StatsSource(id);
  let playback = null;
  const devstats = new DevStats(video, stats, () => (playback ? playback.describe() : null));
  window.addEventListener("keydown", (event) => onKey(event, video, devstats), { capture: true });
  if (!ID_RE.test(id || "")) {
    dead("Not a video's link", "This link does not name a video (it may have been cut short or mistyped). Go back to the library to pick one.", "malformed");
    return;
  }
  const [{ ok, status, body: doc }] = await Promise.all([
    fetchJSON(`/api/videos/${id}?caps=${encodeURIComponent(capsDescriptor())}`), loadProfile()]);
  if (!ok) {
    if (status === 404) dead("Not in the library", "This video is not in the library (it may have been removed or renamed). Go back to the library to pick another.", "unknown");
    else dead("Cannot load this video", `The server answered HTTP ${status}${doc && doc.error ? `: ${doc.error}` : ""}. Reload the page to try again.`, "failed");
    return;
  }
  if (missing(doc)) {
    dead(doc.title, `The file of this video is missing from disk (${doc.path}), so it cannot be played or downloaded. Restore it and reload this page, or run \`mediaserve audit\` to remove it from the library.`, "missing");
    return;
  }
  document.title = `${doc.title} · mediaserve`;
  $("title").textContent = doc.title;
  video.dataset.mode = (doc.playback && doc.playback.mode) || "direct";
  renderFacts(doc);
  new Episodes(video, id).load();
  const menu = new QualityMenu($("quality"), (choice) => playback.use(choice));
  const hooks = {
    onBusy: (seconds) => { document.body.dataset.busy = "1"; showMessage(busyText(seconds)); },
    onReady: () => { if (document.body.dataset.busy) { delete document.body.dataset.busy; hideMessage(); } },
    onFailed: async (text, url) => { showMessage(text || await explainFailure(url)); document.body.dataset.failed = "1"; },
    onLevels: () => menu.render(playback.choices(), playback.choice),
    onSwitch: () => {
      video.dataset.engine = playback.engine || "";
      video.dataset.quality = playback.choice || "";
      if (menu.value !== playback.choice && playback.choice) menu.render(playback.choices(), playback.choice);
    },
  };
  playback = new Playback(video, doc, hooks);
  const stop = blocker(doc);
  if (!stop) { start(doc, stats, playback, menu); return; }
  const actions = [];
  if (stop.retry) {
    const tryIt = el("button", { type: "button", text: "Try to play it anyway" });
    tryIt.addEventListener("click", () => {
      // the file itself, whatever the plan said: the viewer asked for it
      playback.plan = { ...playback.plan, mode: "direct", converted_url: null, renditions: [] };
      start(doc, stats, playback, menu);
    }, { once: true });
    actions.push(tryIt);
  }
  actions.push(el("a", { class: "button", href: doc.stream_url, download: doc.name, text: "Download the file" }));
  showMessage(stop.text, actions);
  document.body.dataset.blocked = stop.kind;
}

main();
