// Resume: the position is kept in localStorage while the video plays and offered on return
// (not in the first 5 s nor the credits). Works the same whatever plays the video (the file,
// hls.js or the browser's HLS): it only reads and sets the <video>'s time.
import { fmtDuration } from "./common.js";

const $ = (id) => document.getElementById(id);

export class Resume {
  // seek(t): how to jump to t seconds (the player waits for the metadata if need be)
  constructor(video, id, seek) {
    this.video = video;
    this.key = `mediaserve:resume:${id}`;
    this.seek = seek;
  }

  watch() {
    const video = this.video;
    let last = 0;
    video.addEventListener("timeupdate", () => {
      if (Math.abs(video.currentTime - last) >= 5) { last = video.currentTime; this.save(); }
    });
    video.addEventListener("pause", () => this.save());
    video.addEventListener("ended", () => localStorage.removeItem(this.key));
    window.addEventListener("pagehide", () => this.save());
  }

  save() {
    const t = this.video.currentTime, d = this.video.duration;
    if (!isFinite(d) || d <= 0) return;
    // nothing to resume at the very start or in the last seconds (the credits)
    if (t < 5 || t > d - Math.min(10, d * 0.05)) localStorage.removeItem(this.key);
    else localStorage.setItem(this.key, JSON.stringify({ t, d, at: Date.now() }));
  }

  offer() {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(this.key)); } catch { saved = null; }
    if (!saved || !(saved.t > 0)) return;
    $("resume-text").textContent = `You stopped at ${fmtDuration(saved.t)}.`;
    $("resume-yes").textContent = `Resume from ${fmtDuration(saved.t)}`;
    $("resume").hidden = false;
    $("resume-yes").addEventListener("click", () => {
      this.seek(saved.t);
      $("resume").hidden = true;
      this.video.play().catch(() => {});
    });
    $("resume-no").addEventListener("click", () => {
      localStorage.removeItem(this.key);
      $("resume").hidden = true;
    });
  }
}
