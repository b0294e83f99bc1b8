/**
 * The key to a mode's overlays: a numbered colour bar per map shown (one scale for every image of the
 * mode, so equal colours are equal values) and the outlines of the two patches that make an image's score.
 */
import type { MapScale } from "../../api/client";
import { type OverlayOptions, paletteNames, paletteRgb } from "../../lib/mode/overlay";
import { dimmedGrey, scaleGradient, scaleTicks, shownMaps } from "../../lib/mode/mapScale";

const MAP_WORDS = { query: "query map (P_U: tokens like u)", key: "key map (P_V: tokens like v)" } as const;

export function MapScaleLegend({ scale, options }: { scale: MapScale; options: OverlayOptions }) {
  const names = paletteNames(options.palette);
  const rgb = paletteRgb(options.palette);
  return (
    <div className="map-scale" role="group" aria-label="Colour scale of this mode's overlays">
      {shownMaps(options.channel).map((map) => {
        const top = scale[map];
        const label = `${MAP_WORDS[map]}, ${names[map]}: one scale for every image of this mode`;
        return (
          <div key={map} className="heat-legend map-scale-bar" role="group" aria-label={`Colour scale: ${label}`}>
            <span
              className="heat-legend-bar"
              style={{ backgroundImage: scaleGradient(rgb[map], options), backgroundColor: dimmedGrey(options.blend) }}
              aria-hidden="true"
            />
            {top > 0 ? (
              <span className="heat-legend-ticks">
                {scaleTicks(top).map((t) => (
                  <span key={t.at} className="heat-legend-tick" style={{ left: `${100 * t.at}%` }}>
                    {t.text}
                  </span>
                ))}
              </span>
            ) : (
              <span className="muted">
                no image of this mode has a {map} value above 0: no {names[map]} is drawn
              </span>
            )}
            <span className="heat-legend-label">{label}</span>
          </div>
        );
      })}
      <p className="legend-line peak-key">
        <svg className="peak-icon" viewBox="0 0 16 16" aria-hidden="true">
          <rect x="1.5" y="1.5" width="13" height="13" fill="none" stroke="#000" strokeWidth="3" />
          <rect x="1.5" y="1.5" width="13" height="13" fill="none" stroke="#fff" strokeWidth="1.5" />
        </svg>{" "}
        solid box: the query map&apos;s highest patch ·{" "}
        <svg className="peak-icon" viewBox="0 0 16 16" aria-hidden="true">
          <rect x="1.5" y="1.5" width="13" height="13" fill="#000" fillOpacity="0" stroke="#000" strokeWidth="2.5" />
          <rect
            x="1.5"
            y="1.5"
            width="13"
            height="13"
            fill="none"
            stroke="#fff"
            strokeWidth="2.5"
            strokeDasharray="3 3"
          />
        </svg>{" "}
        dashed box: the key map&apos;s highest patch. An image&apos;s score is the product of these two values.
      </p>
    </div>
  );
}
