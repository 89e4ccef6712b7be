// What this browser decodes, asked once per page: the capability descriptor the server
// decides each video's playback plan from (its grammar: mediaserve/core/playback/caps.py).
// Each container is asked with its own MIME type, the one the server sends for it (an MKV
// as video/x-matroska, never video/webm: asking about the wrong container is how H.264 MKV
// files were once refused, issue 19); fragmented MP4, what HLS carries, through
// MediaSource.isTypeSupported.

// our codec tokens -> an RFC 6381 string each browser understands
const VIDEO = {
  h264: "avc1.640028", "h264.10": "avc1.6e0028", hevc: "hvc1.1.6.L120.90",
  "hevc.10": "hvc1.2.4.L120.90", av1: "av01.0.05M.08", vp9: "vp09.00.10.08", vp8: "vp8",
  mpeg4: "mp4v.20.9",
};
const AUDIO = {
  aac: "mp4a.40.2", mp3: "mp4a.69", opus: "opus", vorbis: "vorbis", flac: "flac",
  ac3: "ac-3", eac3: "ec-3", dts: "dtsc", alac: "alac",
};
// the CODECS our HLS master playlists write for copied MP3 (mediaserve/core/playback/hls.py)
const MSE_AUDIO = { ...AUDIO, mp3: "mp4a.40.34" };
// container key -> MIME type, and the codec names that differ inside it
const CONTAINERS = {
  mp4: ["video/mp4", {}],
  mov: ["video/quicktime", {}],
  webm: ["video/webm", {}],
  mkv: ["video/x-matroska", { mp3: "mp3" }],
};

let cached = null;

// The descriptor, e.g. "v1;mp4=h264,aac;mkv=h264,aac;webm=vp9,opus;mse=h264,aac;hls=0".
export function capsDescriptor() {
  if (cached !== null) return cached;
  const probe = document.createElement("video");
  const items = ["v1"];
  for (const [key, [mime, names]] of Object.entries(CONTAINERS)) {
    const plays = Object.entries({ ...VIDEO, ...AUDIO })
      .filter(([token, codec]) => probe.canPlayType(`${mime}; codecs="${names[token] || codec}"`) !== "")
      .map(([token]) => token);
    if (plays.length) items.push(`${key}=${plays.join(",")}`);
  }
  const source = mediaSource();
  if (source) {
    const mse = [
      ...Object.entries(VIDEO).filter(([, c]) => source.isTypeSupported(`video/mp4; codecs="${c}"`)),
      ...Object.entries(MSE_AUDIO).filter(([, c]) => source.isTypeSupported(`audio/mp4; codecs="${c}"`)),
    ].map(([token]) => token);
    items.push(`mse=${mse.join(",")}`);
  }
  items.push(`hls=${nativeHls(probe) ? 1 : 0}`);
  cached = items.join(";");
  return cached;
}

// Media Source Extensions (ManagedMediaSource on iOS Safari), or null.
export function mediaSource() {
  const found = window.ManagedMediaSource || window.MediaSource;
  return found && typeof found.isTypeSupported === "function" ? found : null;
}

// The browser plays HLS playlists itself (Safari; recent Chromium says "maybe" too, but
// where MSE exists the player prefers hls.js, which has the quality levels).
export function nativeHls(video) {
  return video.canPlayType("application/vnd.apple.mpegurl") !== "";
}
