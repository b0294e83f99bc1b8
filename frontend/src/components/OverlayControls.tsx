/**
 * Which maps an overlay shows, in which colours, and how bright the photo under them is. The blend
 * slider reports its value once it rests, so dragging it does not request every overlay per step.
 */
import { useEffect, useState } from "react";
import type { Channel, Palette } from "../api/client";
import { CHANNEL_OPTIONS, type OverlayOptions, PALETTE_OPTIONS, paletteNames } from "../lib/overlay";
import { SegmentedControl } from "./SegmentedControl";

const BLEND_SETTLE_MS = 250;

export function OverlayControls({
  value,
  onChange,
}: {
  value: OverlayOptions;
  onChange: (next: OverlayOptions) => void;
}) {
  const names = paletteNames(value.palette);
  const [blend, setBlend] = useState(value.blend);
  // A new value from outside (e.g. the URL) moves the slider: state adjusted while rendering, as
  // React's docs do for a changed prop, rather than in an effect after the render.
  const [outside, setOutside] = useState(value.blend);
  if (value.blend !== outside) {
    setOutside(value.blend);
    setBlend(value.blend);
  }
  useEffect(() => {
    if (blend === value.blend) return undefined;
    const timer = setTimeout(() => onChange({ ...value, blend }), BLEND_SETTLE_MS);
    return () => clearTimeout(timer);
  }, [blend, value, onChange]);
  return (
    <div className="controls">
      <SegmentedControl<Channel>
        label="Maps"
        value={value.channel}
        options={CHANNEL_OPTIONS}
        onChange={(channel) => onChange({ ...value, channel })}
      />
      <SegmentedControl<Palette>
        label="Palette"
        value={value.palette}
        options={PALETTE_OPTIONS}
        onChange={(palette) => onChange({ ...value, palette })}
      />
      <label className="range">
        <span>Photo under the maps</span>
        <input
          type="range"
          min={0}
          max={1}
          step={0.1}
          value={blend}
          onChange={(e) => setBlend(Number(e.target.value))}
          aria-valuetext={`${Math.round(blend * 100)} %`}
        />
      </label>
      <p className="legend-line">
        <span className={`swatch swatch-query ${value.palette}`} aria-hidden="true" /> {names.query}: query map (tokens
        like u) · <span className={`swatch swatch-key ${value.palette}`} aria-hidden="true" /> {names.key}: key map
        (tokens like v) · white: both
      </p>
    </div>
  );
}
