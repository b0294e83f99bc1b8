/**
 * Which maps an overlay shows, in which colours, how opaque they are and how bright the photo under
 * them is. The sliders report their value once they rest, so dragging one does not request every
 * overlay per step.
 */
import { useEffect, useState } from "react";
import type { Channel, Palette } from "../api/client";
import { CHANNEL_OPTIONS, type OverlayOptions, PALETTE_OPTIONS, paletteNames } from "../lib/overlay";
import { SegmentedControl } from "./SegmentedControl";

const SLIDER_SETTLE_MS = 250;

export function OverlayControls({
  value,
  onChange,
}: {
  value: OverlayOptions;
  onChange: (next: OverlayOptions) => void;
}) {
  const names = paletteNames(value.palette);
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
      <FractionSlider
        label="Map opacity"
        value={value.opacity}
        onSettle={(opacity) => onChange({ ...value, opacity })}
      />
      <FractionSlider
        label="Photo brightness"
        value={value.blend}
        onSettle={(blend) => onChange({ ...value, blend })}
      />
      <p className="legend-line">
        <span className={`swatch swatch-query ${value.palette}`} aria-hidden="true" /> {names.query}: query map (tokens
        like u) · <span className={`swatch swatch-key ${value.palette}`} aria-hidden="true" /> {names.key}: key map
        (tokens like v) · white: both
      </p>
    </div>
  );
}

/** A 0–100 % slider that reports its value `SLIDER_SETTLE_MS` after the last move. */
function FractionSlider({
  label,
  value,
  onSettle,
}: {
  label: string;
  value: number;
  onSettle: (value: number) => void;
}) {
  const [shown, setShown] = useState(value);
  // A new value from outside (e.g. the URL) moves the slider: state adjusted while rendering, as
  // React's docs do for a changed prop, rather than in an effect after the render.
  const [outside, setOutside] = useState(value);
  if (value !== outside) {
    setOutside(value);
    setShown(value);
  }
  useEffect(() => {
    if (shown === value) return undefined;
    const timer = setTimeout(() => onSettle(shown), SLIDER_SETTLE_MS);
    return () => clearTimeout(timer);
  }, [shown, value, onSettle]);
  return (
    <label className="range">
      <span>{label}</span>
      <input
        type="range"
        min={0}
        max={1}
        step={0.1}
        value={shown}
        onChange={(e) => setShown(Number(e.target.value))}
        aria-valuetext={`${Math.round(shown * 100)} %`}
      />
    </label>
  );
}
