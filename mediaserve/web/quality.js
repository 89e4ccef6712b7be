// The quality menu under the player: Auto, each rendition, and Original where the file
// plays as it is or repackaged. The viewer's choice is the profile's quality preference
// (kept by the server; a guest's in this browser), which picks the rendition of the next
// converted video.
import { el } from "./common.js";
import { profile, savePrefs } from "./profile.js";

// "auto", "original" or a rendition name such as "720p".
export function rememberedQuality() {
  return profile.prefs.quality || "auto";
}

export function rememberQuality(value) {
  if (value !== profile.prefs.quality) savePrefs({ quality: value });
}

export class QualityMenu {
  // select: the <select>; onPick(value) is called when the viewer picks another entry
  constructor(select, onPick) {
    this.select = select;
    this.box = select.closest(".quality");
    select.addEventListener("change", () => {
      rememberQuality(select.value);
      onPick(select.value);
    });
  }

  // options: [{value, label}]; current: the value playing. One entry is no choice: hidden.
  render(options, current) {
    this.select.replaceChildren(...options.map((o) => el("option", { value: o.value, text: o.label })));
    this.select.value = current;
    this.box.hidden = options.length < 2;
  }

  get value() { return this.select.value; }
}
