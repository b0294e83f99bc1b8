/**
 * Which maps an overlay shows, in which colours, how opaque they are and how bright the photo under
 * them is. The sliders report their values once they rest, so dragging one does not request every
 * overlay per step.
 */
import type { Channel, Palette } from "../../api/client";
import { CHANNEL_OPTIONS, type OverlayOptions, PALETTE_OPTIONS, shownMaps } from "../../lib/mode/overlay";
import { useDebouncedDraft } from "../../lib/common/useDebouncedDraft";
import { SegmentedControl } from "../ui/SegmentedControl";

const SLIDER_SETTLE_MS = 250;

/** What each map shows, for the legend. */
const MAP_MEANING = { query: "tokens like u", key: "tokens like v" } as const;

/** The overlay options the sliders set, as shown while they move. */
type SliderValues = Pick<OverlayOptions, "opacity" | "blend">;

export function OverlayControls({
  value,
  onChange,
}: {
  value: OverlayOptions;
  onChange: (next: OverlayOptions) => void;
}) {
  // One timer for both sliders (they report together once neither has moved for a while), and a value
  // from outside (e.g. the URL) moves only its own slider.
  const [sliders, moveSliders] = useDebouncedDraft<SliderValues>(
    { opacity: value.opacity, blend: value.blend },
    (settled) => onChange({ ...value, ...settled }),
    SLIDER_SETTLE_MS,
  );
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
      <FractionSlider label="Map opacity" value={sliders.opacity} onMove={(opacity) => moveSliders({ opacity })} />
      <FractionSlider label="Photo brightness" value={sliders.blend} onMove={(blend) => moveSliders({ blend })} />
      <p className="legend-line">
        {shownMaps(value).map(({ map, colour }, i) => (
          <span key={map}>
            {i > 0 ? " · " : null}
            <span className={`swatch swatch-${map} ${value.palette}`} aria-hidden="true" /> {colour}: {map} map (
            {MAP_MEANING[map]})
          </span>
        ))}
        {value.channel === "both"
          ? " · white: both"
          : ` · the ${value.channel === "query" ? "key" : "query"} map is hidden`}
      </p>
    </div>
  );
}

/** A 0–100 % slider, its value shown beside it. */
function FractionSlider({ label, value, onMove }: { label: string; value: number; onMove: (value: number) => void }) {
  const percentText = `${Math.round(value * 100)} %`;
  return (
    <label className="range">
      <span>{label}</span>
      <input
        type="range"
        min={0}
        max={1}
        step={0.1}
        value={value}
        onChange={(e) => onMove(Number(e.target.value))}
        aria-valuetext={percentText}
      />
      {/* The value in figures beside the slider; the slider itself announces it (aria-valuetext). */}
      <output aria-hidden="true">{percentText}</output>
    </label>
  );
}
