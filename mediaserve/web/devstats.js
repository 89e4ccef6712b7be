// Streaming statistics from the server: the seek heat map's data, the `d` overlay, and the
// player's seek reports. The stats endpoints may be absent (an older server, or a feature
// turned off): everything here then quietly does nothing.
import { el, fmtDuration, fmtSize } from "./common.js";

const $ = (id) => document.getElementById(id);

export class StatsSource {
  constructor(id) { this.id = id; this.available = true; }

  async video() {
    if (!this.available) return null;
    try {
      const res = await fetch(`/api/videos/${this.id}/streaming-stats`, { cache: "no-store" });
      if (res.status === 404) { this.available = false; return null; }
      return res.ok ? await res.json() : null;
    } catch { return null; }
  }
}

// Seeks are batched: sent when 10 have gathered, 3 s after the first of a batch, or when the
// page goes away (sendBeacon). Fire-and-forget: a failure loses a few data points, nothing more.
export class SeekReporter {
  constructor(id, stats) {
    this.url = `/api/videos/${id}/seek-analytics`;
    this.stats = stats;
    this.pending = [];
    this.timer = null;
    this.backoffUntil = 0;
    this.onFlushed = null;
    addEventListener("pagehide", () => this.flush(true));
  }

  add(seconds) {
    if (!isFinite(seconds) || !this.stats.available) return;
    this.pending.push(Math.round(seconds * 1000) / 1000);
    if (this.pending.length >= 10) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), 3000);
  }

  flush(leaving = false) {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending.length || !this.stats.available || Date.now() < this.backoffUntil) return;
    const body = JSON.stringify({ positions: this.pending.splice(0, 100) });
    if (leaving && navigator.sendBeacon) {
      navigator.sendBeacon(this.url, new Blob([body], { type: "application/json" }));
      return;
    }
    fetch(this.url, { method: "POST", body, keepalive: true, headers: { "Content-Type": "application/json" } })
      .then((res) => {
        if (res.status === 404) this.stats.available = false;
        if (res.status === 429) this.backoffUntil = Date.now() + 30000;
        if (res.ok && this.onFlushed) this.onFlushed();
      })
      .catch(() => {});
  }
}

const ranges = (tr) => {
  const out = [];
  for (let i = 0; i < tr.length; i++) out.push(`${fmtDuration(tr.start(i))}–${fmtDuration(tr.end(i))}`);
  return out.join(", ") || "none";
};

const ENGINES = { direct: "the file itself (range requests)", "hls.js": "HLS through hls.js (Media Source Extensions)",
  native: "HLS, the browser's own player" };
const mbit = (bps) => (bps == null ? "n/a" : `${(bps / 1e6).toFixed(2)} Mbit/s`);

export class DevStats {
  // describe(): what plays the video (Playback.describe()), or null before it starts
  constructor(video, stats, describe = () => null) {
    this.video = video;
    this.stats = stats;
    this.describe = describe;
    this.timer = null;
    this.server = null;
  }

  toggle() {
    const box = $("devstats");
    box.hidden = !box.hidden;
    clearInterval(this.timer);
    if (box.hidden) return;
    const tick = async () => { this.server = await this.stats.video(); this.render(); };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  render() {
    const v = this.video, s = this.server;
    const quality = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    const p = this.describe();
    const playing = !p ? [] : [
      ["Mode", p.mode],
      ["Why", p.reasons.join("; ") || "n/a"],
      ["Playing", ENGINES[p.engine] || "not started"],
      ["Rendition", `${p.rendition}${p.autoLevel ? " (auto)" : ""}`],
      ["Bandwidth estimate", p.engine === "hls.js" ? mbit(p.bandwidth) : "n/a"],
    ];
    const rows = [
      ...playing,
      ["Requests", s ? s.requests : "n/a"],
      ["Status codes", s ? Object.entries(s.status || {}).map(([k, n]) => `${k}: ${n}`).join(", ") || "none" : "n/a"],
      ["Bytes sent", s ? fmtSize(s.bytes_sent) : "n/a"],
      ["Ranges served", s ? s.ranges_served : "n/a"],
      ["Mean range size", s ? fmtSize(Math.round(s.mean_range_bytes || 0)) : "n/a"],
      ["Active streams", s ? s.active_streams : "n/a"],
      ["Aborted", s ? s.aborts : "n/a"],
      ["Seeks reported", s ? s.player_seeks : "n/a"],
      ["Buffered", ranges(v.buffered)],
      ["Position", `${fmtDuration(v.currentTime)} / ${fmtDuration(v.duration)} at ${v.playbackRate}×`],
      ["Picture", v.videoWidth ? `${v.videoWidth}×${v.videoHeight}` : "none"],
      ["Dropped frames", quality ? `${quality.droppedVideoFrames} of ${quality.totalVideoFrames}` : "n/a"],
      ["Ready / network state", `${v.readyState} / ${v.networkState}`],
    ];
    if (!this.stats.available) rows.unshift(["Server stats", "not available on this server"]);
    $("devstats-list").replaceChildren(...rows.flatMap(([k, val]) => [el("dt", { text: k }), el("dd", { text: String(val) })]));
  }
}
