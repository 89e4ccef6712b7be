// What the player tells the viewer: the box over the video, and the words for each playback
// plan. The words come from the server's plan, one reason per stream ("the sound: AC-3 is
// not decoded by this browser, converted to AAC"), so they say which part of the file is the
// trouble. Converting by hand is suggested only when the server has converting switched off.
import { el } from "./common.js";

const $ = (id) => document.getElementById(id);
const sentence = (s) => (s ? s[0].toUpperCase() + s.slice(1) : "");

export function showMessage(text, actions = []) {
  const box = $("message");
  box.replaceChildren(el("p", { text }), ...actions);
  box.hidden = false;
  $("buffering").hidden = true;
}

export function hideMessage() {
  $("message").hidden = true;
}

// The reasons of a plan the server refused to carry out, without what it would have done.
function troubles(plan) {
  return (plan.reasons || [])
    .filter((r) => !r.startsWith("the server: "))
    .map((r) => r.replace(/, converted to [^,;]+$/, "").replace(/^the file: repackaged.*$/, ""))
    .filter(Boolean);
}

// {text, kind} for a plan this browser cannot play; null when it plays.
export function planMessage(plan) {
  if (!plan) return null;
  const why = troubles(plan).join("; ");
  if (plan.mode === "unplayable") {
    return { kind: "unplayable", text: `This browser cannot play this video${why ? `: ${why}` : ""}. Download it and play it with a desktop player such as VLC or mpv.` };
  }
  if (plan.mode !== "off") return null;
  if (plan.off === "not-prepared") {
    return { kind: "not-prepared", text: `This video is not prepared for this browser${why ? ` (${why})` : ""}. This server plays only what was prepared ahead (it runs with --no-live-transcode): run \`mediaserve prepare\` on the server, or download the file.` };
  }
  return { kind: "no-transcode", text: `This browser cannot play this video as it is${why ? ` (${why})` : ""}, and converting is switched off on this server (--no-transcode). Transcode the file to H.264/AAC in MP4, or download it and use a desktop player.` };
}

const SUMMARY = {
  direct: "plays as it is",
  remux: "repackaged as it plays (no re-encoding)",
  audio: "picture as it is, sound converted as it plays",
  transcode: "converted as it plays",
};

// One line for the facts list: how this browser gets the video, and why.
export function planNote(plan) {
  if (!plan) return "";
  const head = SUMMARY[plan.mode];
  if (!head) return sentence(troubles(plan).join("; ")) || "cannot play here";
  const why = plan.mode === "direct" ? [] : plan.reasons || [];
  return sentence([head, ...why].join("; "));
}

export const busyText = (seconds) =>
  `The server is busy converting other videos. Trying again in ${seconds} s…`;

export const failedText = (error) =>
  `The server could not convert this video${error ? `: ${error}` : ""}. Download it and use a desktop player.`;
