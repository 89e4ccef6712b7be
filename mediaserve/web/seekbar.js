// The bar under the video: where viewers seek (the heat map), what is buffered and played,
// and a preview frame under the pointer (from the WebVTT thumbnails track and its sprite).
// Click or drag on it to seek.
import { fmtDuration } from "./common.js";

const $ = (id) => document.getElementById(id);

function parseTime(text) {
  const parts = text.trim().split(":").map(Number);
  return parts.reduce((acc, n) => acc * 60 + n, 0);
}

// Cues of a WebVTT thumbnails track: [{start, end, url, x, y, w, h}].
export function parseThumbnails(text, base) {
  const cues = [];
  const lines = text.replace(/\r/g, "").split("\n");
  for (let i = 0; i < lines.length - 1; i++) {
    const m = lines[i].match(/^([\d:.]+)\s+-->\s+([\d:.]+)/);
    if (!m) continue;
    const target = lines[i + 1].trim();
    const hash = target.match(/#xywh=(\d+),(\d+),(\d+),(\d+)$/);
    if (!hash) continue;
    cues.push({ start: parseTime(m[1]), end: parseTime(m[2]),
                url: new URL(target.slice(0, target.indexOf("#")), base).href,
                x: +hash[1], y: +hash[2], w: +hash[3], h: +hash[4] });
  }
  return cues;
}

export class SeekBar {
  constructor(video, id, duration, stats, previews = true) {
    this.video = video;
    this.id = id;
    this.duration = duration || 0;
    this.stats = stats;
    this.previews = previews;  // false: no picture or no duration, so no sprite to ask for
    this.cues = [];
    this.sprite = null;
    this.bar = $("seekbar");
    this.slider = $("seek-slider");
    this.canvas = $("heatmap");
  }

  start() {
    this.bar.hidden = false;
    this.video.addEventListener("loadedmetadata", () => {
      if (isFinite(this.video.duration)) this.duration = this.video.duration;
      this.slider.setAttribute("aria-valuemax", String(Math.round(this.duration)));
    });
    for (const name of ["timeupdate", "progress", "seeked", "durationchange"]) {
      this.video.addEventListener(name, () => this.paintProgress());
    }
    this.slider.addEventListener("pointermove", (e) => this.hover(e));
    this.slider.addEventListener("pointerleave", () => { if (!this.dragging) $("preview").hidden = true; });
    this.slider.addEventListener("pointerdown", (e) => {
      this.dragging = true;
      this.slider.setPointerCapture(e.pointerId);
      this.seekTo(e);
    });
    this.slider.addEventListener("pointerup", (e) => {
      this.dragging = false;
      this.seekTo(e);
      $("preview").hidden = true;
    });
    if (this.previews) this.loadThumbnails();
    this.refreshHeat();
    new ResizeObserver(() => this.drawHeat()).observe(this.canvas);
  }

  timeAt(event) {
    const rect = this.slider.getBoundingClientRect();
    const share = Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1);
    return { t: share * this.duration, share, rect };
  }

  seekTo(event) {
    if (!this.duration) return;
    this.video.currentTime = this.timeAt(event).t;
  }

  hover(event) {
    if (!this.duration) return;
    const { t, share, rect } = this.timeAt(event);
    if (this.dragging && Math.abs(this.video.currentTime - t) > 0.5) this.video.currentTime = t;
    const preview = $("preview");
    $("preview-time").textContent = fmtDuration(t);
    const frame = $("preview-frame");
    const cue = this.cues.find((c) => t >= c.start && t < c.end) || this.cues[this.cues.length - 1];
    if (cue && this.sprite && this.sprite.complete && this.sprite.naturalWidth) {
      frame.style.backgroundImage = `url("${cue.url}")`;
      frame.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      frame.style.width = `${cue.w}px`;
      frame.style.height = `${cue.h}px`;
      frame.dataset.tile = `${cue.x},${cue.y}`;
      frame.hidden = false;
    } else {
      frame.hidden = true;
    }
    preview.hidden = false;
    const half = (cue ? cue.w : 60) / 2;
    const x = Math.min(Math.max(share * rect.width, half), rect.width - half);
    preview.style.left = `${x}px`;
  }

  async loadThumbnails() {
    try {
      const res = await fetch(`/api/videos/${this.id}/thumbnails.vtt`);
      if (!res.ok) return;
      this.cues = parseThumbnails(await res.text(), location.href);
      if (!this.cues.length) return;
      this.sprite = new Image();
      this.sprite.decoding = "async";
      this.sprite.src = this.cues[0].url;  // one image for every tile: fetched once, ahead of the hover
      this.sprite.addEventListener("load", () => { this.bar.dataset.previews = "ready"; });
    } catch { /* previews are a nicety: the bar still seeks */ }
  }

  paintProgress() {
    const d = this.duration || this.video.duration;
    if (!d || !isFinite(d)) return;
    const t = this.video.currentTime;
    $("played").style.width = `${(t / d) * 100}%`;
    const ranges = this.video.buffered;
    const parts = [];
    for (let i = 0; i < ranges.length; i++) {
      parts.push(`transparent ${(ranges.start(i) / d) * 100}%`, `var(--buffered) ${(ranges.start(i) / d) * 100}%`,
                 `var(--buffered) ${(ranges.end(i) / d) * 100}%`, `transparent ${(ranges.end(i) / d) * 100}%`);
    }
    $("buffered").style.backgroundImage = parts.length ? `linear-gradient(to right, ${parts.join(", ")})` : "none";
    this.slider.setAttribute("aria-valuenow", String(Math.round(t)));
    this.slider.setAttribute("aria-valuetext", `${fmtDuration(t)} of ${fmtDuration(d)}`);
  }

  async refreshHeat() {
    const doc = await this.stats.video();
    if (!doc) { this.bar.dataset.heat = "unavailable"; return; }
    this.heat = doc.player_seek_heatmap || [];
    this.byteHeat = doc.seek_heatmap || [];
    this.canvas.dataset.bins = JSON.stringify(this.heat);
    this.bar.dataset.heat = "ready";
    this.drawHeat();
  }

  drawHeat() {
    const canvas = this.canvas;
    const width = Math.max(1, Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)));
    if (canvas.width !== width) canvas.width = width;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const styles = getComputedStyle(this.bar);
    const paint = (bins, color, y, h) => {
      const max = Math.max(0, ...bins);
      if (!max) return;
      ctx.fillStyle = color;
      const w = canvas.width / bins.length;
      bins.forEach((n, i) => {
        if (!n) return;
        ctx.globalAlpha = 0.15 + 0.85 * (n / max);
        ctx.fillRect(Math.floor(i * w), y, Math.ceil(w), h);
      });
      ctx.globalAlpha = 1;
    };
    const h = canvas.height;
    paint(this.byteHeat || [], styles.getPropertyValue("--heat-bytes").trim() || "#888", Math.round(h * 0.7), h - Math.round(h * 0.7));
    paint(this.heat || [], styles.getPropertyValue("--heat").trim() || "#f97316", 0, Math.round(h * 0.7));
  }
}
