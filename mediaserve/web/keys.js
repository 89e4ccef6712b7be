// The player's keyboard shortcuts (listed on the page under "Keyboard shortcuts"). They act
// on the <video> element only, so they work whatever plays it (the file, hls.js, native HLS).
import { isTyping } from "./common.js";

const $ = (id) => document.getElementById(id);
const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 3];

export function onKey(event, video, devstats) {
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
    else video.closest(".video-box").requestFullscreen().catch(() => {});
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
