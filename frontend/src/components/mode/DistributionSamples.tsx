/**
 * "Across the distribution": a signed mode's score range cut into bands, highest first, each with how
 * many dataset images score in it and the few images sampled there (docs/method.md#samples-across-the-distribution),
 * so a reader sees what a typical or a weak image looks like under the mode, not only its extreme tail.
 */
import type { DistributionBand, ModeSamples, SampledImage } from "../../api/client";
import { count, fmt, percent } from "../../lib/common/format";
import { HelpTip } from "../ui/HelpTip";
import { QuirkBadge } from "../ui/SignBadge";
import { DatasetImageCard } from "./DatasetImageCard";

/** The element id of a band's row (the histogram's bars scroll to it). */
export function bandRowId(band: number): string {
  return `band-${band}`;
}

/** The band a histogram bar belongs to: bar 0 counts the scores below the bins, the last bar those beyond. */
export function bandOfBar(bands: DistributionBand[], bar: number, nBins: number): number | null {
  const bin = Math.min(nBins - 1, Math.max(0, bar - 1));
  return bands.find((b) => bin >= b.first_bin && bin < b.first_bin + b.n_bins)?.band ?? null;
}

function bandHeading(band: DistributionBand, total: number, last: boolean): string {
  const share = total > 0 ? ` (${percent(band.count / total)})` : "";
  return `Scores ${fmt(band.low)} to ${fmt(band.high)}${last ? " (the highest)" : ""}: ${count(band.count, "image")}${share}`;
}

/** Every sampled image, highest band first: the order the section lists them and the large view steps. */
export function sampledInOrder(samples: ModeSamples): SampledImage[] {
  return [...samples.bands].reverse().flatMap((band) => band.images);
}

function SampleCard({
  image,
  labelHref,
  onOpen,
}: {
  image: SampledImage;
  labelHref?: ((label: string) => string) | undefined;
  onOpen: () => void;
}) {
  return (
    <DatasetImageCard image={image} describe=" as the model saw it" labelHref={labelHref} onOpen={onOpen}>
      <span className="score">score {fmt(image.score)}</span>
      {image.fires ? null : (
        <span className="quirk">
          <QuirkBadge />
          <HelpTip term="quirk" />
        </span>
      )}
    </DatasetImageCard>
  );
}

export function DistributionSamples({
  samples,
  selectedBand,
  labelHref,
  onOpen,
}: {
  samples: ModeSamples;
  /** The band picked on the histogram (highlighted), or null. */
  selectedBand: number | null;
  labelHref?: ((label: string) => string) | undefined;
  /** Open the large view of a sampled image (its position in `sampledInOrder`). */
  onOpen: (position: number) => void;
}) {
  if (samples.samples_missing !== null) {
    return (
      <div className="status status-empty" role="note">
        <strong>No samples across the distribution:</strong> {samples.samples_missing}.
      </div>
    );
  }
  const total = samples.bands.reduce((sum, band) => sum + band.count, 0);
  const highestFirst = [...samples.bands].reverse();
  const positions = new Map(sampledInOrder(samples).map((image, position) => [image.image_id, position]));
  return (
    <div className="distribution-samples">
      <p className="muted small">
        The score range is cut into {samples.bands.length} bands; up to {samples.per_band} images of each are shown,
        picked by a fixed pseudo-random order of the dataset (not by score). Open one to see its maps under this mode
        (computed on demand). Click a bar of the histogram to jump to its band. <HelpTip term="samples" />
      </p>
      {highestFirst.map((band) => (
        <section
          key={band.band}
          id={bandRowId(band.band)}
          className={band.band === selectedBand ? "band-row band-selected" : "band-row"}
          aria-label={`Band ${band.band + 1} of ${samples.bands.length}`}
          aria-current={band.band === selectedBand ? "true" : undefined}
          tabIndex={-1}
        >
          <h3 className="band-heading">{bandHeading(band, total, band.band === samples.bands.length - 1)}</h3>
          {band.images.length === 0 ? (
            <p className="muted small">No image of the dataset scores in this range.</p>
          ) : (
            <ul className="band-images">
              {band.images.map((image) => (
                <SampleCard
                  key={image.image_id}
                  image={image}
                  labelHref={labelHref}
                  onOpen={() => onOpen(positions.get(image.image_id) ?? 0)}
                />
              ))}
            </ul>
          )}
        </section>
      ))}
    </div>
  );
}
