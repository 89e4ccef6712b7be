// Resume everywhere, and the watched mark. With a profile the position goes to the server
// every 5 s of playing, on pause, at the end and, when the page is left, in a beacon; the
// page offers "Resume from 12:34" from the server's row, so a video started on one device
// resumes on another (asked again whenever the page is shown, until it plays); the next
// episode opened by the countdown resumes from there without asking. The server
// marks the video watched past ~90 % (or the credits, or its end); the button here sets or
// clears the mark by hand. Without a profile the position is kept in this browser only.
// Works whatever plays the video (the file, hls.js, the browser's HLS): it only reads and
// sets the <video>'s time.
import { fmtDuration } from "./common.js";
import { profile, progressOf, report, setWatched } from "./profile.js";

const $ = (id) => document.getElementById(id);
const EVERY_S = 5;

export class Resume {
  // seek(t): how to jump to t seconds (the player waits for the metadata if need be)
  constructor(video, id, seek) {
    this.video = video;
    this.id = id;
    this.key = `mediaserve:resume:${id}`;
    this.seek = seek;
    this.started = false;  // played or moved by the viewer: only then is a position news
    this.row = null;       // the server's row for this video (a profile's)
  }

  watch() {
    const video = this.video;
    let last = 0;
    const start = () => { this.started = true; $("resume").hidden = true; };
    video.addEventListener("playing", start);
    video.addEventListener("seeked", () => { if (video.currentTime > 0) start(); });
    video.addEventListener("timeupdate", () => {
      if (Math.abs(video.currentTime - last) >= EVERY_S) { last = video.currentTime; this.save(); }
    });
    video.addEventListener("pause", () => this.save());
    video.addEventListener("ended", () => this.save(false, true));
    window.addEventListener("pagehide", () => this.save(true));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.started) this.offer();
    });
    $("resume-yes").addEventListener("click", () => {
      this.seek(this.offered);
      $("resume").hidden = true;
      this.video.play().catch(() => {});
    });
    $("resume-no").addEventListener("click", () => {
      localStorage.removeItem(this.key);
      $("resume").hidden = true;
    });
    $("watched").addEventListener("click", () => this.toggleWatched());
  }

  save(leaving = false, ended = false) {
    const t = this.video.currentTime, d = this.video.duration;
    if (!this.started || !isFinite(d) || d <= 0) return;
    if (profile.chosen) {
      const sent = report(this.id, { position: Math.min(t, d), duration: d, ended }, leaving);
      sent.then((row) => { if (row) this.show(row); });
      return;
    }
    // nothing to resume at the very start or in the last seconds (the credits)
    if (ended || t < 5 || t > d - Math.min(10, d * 0.05)) localStorage.removeItem(this.key);
    else localStorage.setItem(this.key, JSON.stringify({ t, d, at: Date.now() }));
  }

  // Where this viewer stopped: the profile's row (which also sets the watched button), else
  // this browser's note; null when there is nothing to resume.
  async stoppedAt() {
    if (profile.chosen) {
      const row = await progressOf(this.id);
      if (this.started) return null;
      this.show(row);
      return row && row.in_progress ? row.position : null;
    }
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(this.key)); } catch { saved = null; }
    return saved && saved.t > 0 ? saved.t : null;
  }

  // "Resume from 12:34", when there is somewhere to resume from.
  async offer() {
    const at = await this.stoppedAt();
    if (this.started) return;
    if (at === null) { $("resume").hidden = true; return; }
    this.offered = at;
    $("resume-text").textContent = `You stopped at ${fmtDuration(at)}.`;
    $("resume-yes").textContent = `Resume from ${fmtDuration(at)}`;
    $("resume").hidden = false;
  }

  // Opened by the countdown (or "Play now"): plays at once, from where this viewer stopped
  // (as "Resume from" would), else from the start.
  async carryOn() {
    const at = await this.stoppedAt();
    if (at !== null && !this.started) this.seek(at);
    this.video.play().catch(() => {});
  }

  // the watched button, from the server's row (only with a profile)
  show(row) {
    this.row = row;
    const button = $("watched");
    button.hidden = !profile.chosen;
    const watched = !!(row && row.watched);
    button.dataset.watched = String(watched);
    button.textContent = watched ? "Mark as unwatched" : "Mark as watched";
  }

  async toggleWatched() {
    const row = await setWatched(this.id, !(this.row && this.row.watched));
    if (row) this.show(row);
  }
}
