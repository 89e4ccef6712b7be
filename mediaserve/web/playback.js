// How the <video> gets its picture and sound, following the server's plan for this browser:
// * direct: the file itself, `<video src>` on the 206 stream, exactly as before (never HLS,
//   and hls.js is not even loaded);
// * remux, audio, transcode: HLS, through hls.js where Media Source Extensions exist, else
//   the browser's own HLS (Safari).
// And the quality choices: "original" (the file as it is, or repackaged), "auto" (the
// converted renditions, adapting to the bandwidth) and each rendition ("720p"), switched at
// the same position.
import { capsDescriptor, mediaSource, nativeHls } from "./caps.js";

const HLS_MODULE = "./vendor/hls.js/hls.min.mjs";

// A segment is made when it is first asked for (a transcode of 4 s of 1080p may take
// seconds on a small machine), so hls.js waits longer than for a CDN before it gives up; a
// 503 (every converter busy) is always "retried": the player pauses loading for the
// server's Retry-After and starts again (see onError below).
function patient(retries) {
  const busyIsNotFailure = (_config, _count, _timeout, response, retry) =>
    (response && response.code === 503) || retry;
  return { default: {
    maxTimeToFirstByteMs: 90000, maxLoadTimeMs: 180000,
    timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
    errorRetry: { maxNumRetry: retries, retryDelayMs: 1000, maxRetryDelayMs: 8000,
                  shouldRetry: busyIsNotFailure },
  } };
}

const withCaps = (url, caps) => `${url}${url.includes("?") ? "&" : "?"}caps=${encodeURIComponent(caps)}`;
const levelName = (level) => (level.height ? `${level.height}p` : String(level.name || level.url || ""));

export class Playback {
  // hooks: onBusy(seconds), onReady(), onFailed(text, url), onLevels(), onSwitch()
  constructor(video, doc, hooks) {
    this.video = video;
    this.doc = doc;
    this.plan = doc.playback || { mode: "direct", reasons: [], renditions: [] };
    this.hooks = hooks;
    this.caps = capsDescriptor();
    this.hls = null;
    this.Hls = null;
    this.engine = null;  // "direct", "hls.js" or "native"
    this.url = null;     // the HLS master playing (null: the file itself)
    this.choice = null;
    this.waiting = null; // a timer while the server is busy
  }

  get converts() { return this.plan.mode === "transcode"; }

  // The menu's entries: [{value, label}].
  choices() {
    const out = [];
    if (!this.converts) out.push({ value: "original", label: this.plan.mode === "direct" ? "Original" : "Original (repackaged)" });
    const names = this.renditionNames();
    if (names.length) {
      out.push({ value: "auto", label: "Auto" });
      for (const name of names) out.push({ value: name, label: name });
    }
    return out;
  }

  renditionNames() {
    if (this.hls && this.url === this.convertedUrl()) return this.hls.levels.map(levelName);
    return (this.plan.renditions || []).map((r) => r.name);
  }

  // Where a file that plays as it is (or repackaged) starts: always the original; a
  // converted one at the preferred rendition, or the nearest it has (the tallest not above
  // it, else the smallest), else Auto.
  initialChoice(preferred) {
    if (!this.converts) return "original";
    const names = this.renditionNames();
    if (names.includes(preferred)) return preferred;
    const want = /^\d+p$/.test(preferred || "") ? parseInt(preferred, 10) : 0;
    if (!want || !names.length) return "auto";
    const heights = names.map((n) => [parseInt(n, 10), n]).filter(([h]) => h > 0).sort((a, b) => a[0] - b[0]);
    const below = heights.filter(([h]) => h <= want);
    return (below.length ? below[below.length - 1] : heights[0])?.[1] || "auto";
  }

  convertedUrl() {
    const url = this.converts ? this.plan.master_url : this.plan.converted_url;
    return url ? withCaps(url, this.caps) : null;
  }

  originalUrl() {
    return this.plan.mode === "direct" ? null : withCaps(this.plan.master_url, this.caps);
  }

  // Play `choice` from `at` seconds (null: where the video is now, keeping play/pause).
  async use(choice, at = null) {
    const video = this.video;
    const position = at === null ? video.currentTime || 0 : at;
    const playing = at === null && !video.paused;
    const url = choice === "original" ? this.originalUrl() : this.convertedUrl();
    this.choice = choice;
    if (this.hls && url === this.url) {  // another rendition of the same playlist
      this.switchLevel(this.levelIndex(choice));
      this.hooks.onSwitch();
      return;
    }
    this.detach();
    if (url === null) {
      this.engine = "direct";
      video.src = this.doc.stream_url;
    } else if (!mediaSource() && nativeHls(video)) {
      this.engine = "native";
      this.url = url;
      video.src = url;
    } else {
      await this.attachHls(url, position);
    }
    if (this.engine !== "hls.js" && position > 0) this.seekWhenReady(position);
    if (playing) video.play().catch(() => {});
    this.hooks.onSwitch();
  }

  // hls.js flushes the buffer and loads the new rendition at the same position; Chromium
  // still shows the frames it decoded from the old one (for seconds, until the next
  // keyframe), so once the new rendition's first piece is in, a seek to where the video is
  // makes it decode the new one from there.
  switchLevel(index) {
    const hls = this.hls, Hls = this.Hls, video = this.video;
    hls.currentLevel = index;
    if (index < 0) return;
    const nudge = (_event, data) => {
      if (data.frag.level !== index || data.frag.type !== "main") return;
      hls.off(Hls.Events.FRAG_BUFFERED, nudge);
      video.currentTime = video.currentTime;
    };
    hls.on(Hls.Events.FRAG_BUFFERED, nudge);
  }

  seekWhenReady(position) {
    const video = this.video;
    if (video.readyState >= 1) video.currentTime = position;
    else video.addEventListener("loadedmetadata", () => { video.currentTime = position; }, { once: true });
  }

  async attachHls(url, position) {
    if (!this.Hls) this.Hls = (await import(HLS_MODULE)).default;
    const Hls = this.Hls;
    if (!Hls.isSupported()) {
      this.hooks.onFailed("This browser has neither Media Source Extensions nor HLS, so it cannot play this video's converted stream.");
      return;
    }
    this.engine = "hls.js";
    this.url = url;
    // enableWorker: the ES module build has no inline worker, and fMP4 is passed through
    // without transmuxing: a worker would gain nothing (and need a blob: worker-src)
    const hls = new Hls({
      enableWorker: false, capLevelToPlayerSize: true, startPosition: position > 0 ? position : -1,
      manifestLoadPolicy: patient(2), playlistLoadPolicy: patient(2), fragLoadPolicy: patient(6),
    });
    this.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => this.onManifest(hls));
    hls.on(Hls.Events.LEVEL_SWITCHED, () => this.hooks.onSwitch());
    hls.on(Hls.Events.ERROR, (_event, data) => this.onError(hls, data));
    hls.loadSource(url);
    hls.attachMedia(this.video);
  }

  onManifest(hls) {
    const index = this.levelIndex(this.choice);
    if (index >= 0) hls.currentLevel = index;
    else hls.startLevel = this.screenLevel(hls.levels);
    this.hooks.onLevels();
  }

  levelIndex(choice) {
    if (!this.hls || choice === "auto" || choice === "original") return -1;
    return this.hls.levels.findIndex((level) => levelName(level) === choice);
  }

  // The smallest rendition at least as tall as the player on this screen, else the
  // largest: a sharp first picture without fetching more than the screen shows.
  screenLevel(levels) {
    const want = (this.video.clientHeight || 360) * (window.devicePixelRatio || 1);
    const heights = levels.map((level, i) => [level.height || 0, i]);
    const enough = heights.filter(([h]) => h >= want).sort((a, b) => a[0] - b[0]);
    if (enough.length) return enough[0][1];
    return heights.sort((a, b) => b[0] - a[0])[0][1];
  }

  async onError(hls, data) {
    const code = data.response && data.response.code;
    if (code === 503) {
      if (this.waiting) return;
      const header = data.networkDetails && typeof data.networkDetails.getResponseHeader === "function"
        ? data.networkDetails.getResponseHeader("Retry-After") : null;
      const seconds = Math.min(120, Math.max(1, parseInt(header, 10) || 5));
      hls.stopLoad();
      this.hooks.onBusy(seconds);
      this.waiting = setTimeout(() => {
        this.waiting = null;
        if (this.hls !== hls) return;
        hls.startLoad(this.video.currentTime || -1);
        this.hooks.onReady();
      }, seconds * 1000);
      return;
    }
    if (!data.fatal) return;
    if (data.type === this.Hls.ErrorTypes.MEDIA_ERROR && !this.recovered) {
      this.recovered = true;  // once: a decoder hiccup, not a file that never decodes
      hls.recoverMediaError();
      return;
    }
    const url = (data.frag && data.frag.url) || data.url || (data.context && data.context.url) || null;
    this.hooks.onFailed(null, data.type === this.Hls.ErrorTypes.NETWORK_ERROR ? url : null);
  }

  detach() {
    clearTimeout(this.waiting);
    this.waiting = null;
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.url = null;
    this.engine = null;
    this.video.removeAttribute("src");
  }

  // For the `d` overlay and the tests: what is playing, and how well.
  describe() {
    const hls = this.hls;
    const level = hls && hls.currentLevel >= 0 ? hls.levels[hls.currentLevel] : null;
    return {
      mode: this.plan.mode,
      engine: this.engine,
      choice: this.choice,
      reasons: this.plan.reasons || [],
      rendition: level ? `${levelName(level)} (${level.width}×${level.height}, ${Math.round(level.bitrate / 1000)} kbit/s)`
        : this.engine === "direct" ? "the file itself" : this.url ? "chosen by the browser" : "none",
      bandwidth: hls && Number.isFinite(hls.bandwidthEstimate) ? hls.bandwidthEstimate : null,
      autoLevel: hls ? hls.autoLevelEnabled : null,
    };
  }
}
