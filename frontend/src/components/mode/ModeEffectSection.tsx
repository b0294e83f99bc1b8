/**
 * The attention a mode moves over the dataset (docs/method.md#attention-moved-by-a-mode): the mean as a
 * share of each patch's attention row, its distribution over the images, and the images where it is
 * largest (each opens the large view with its maps under this mode). One value per mode: both signs
 * share it. Atlases that did not measure it say how to get it.
 */
import { lazy, Suspense, useState } from "react";
import type { EffectImage, ModeEffect } from "../../api/client";
import type { SignedModeAt } from "../../api/resources";
import type { TableContext } from "../../lib/charts/csvExport";
import { count, fmt, integer, percent } from "../../lib/common/format";
import type { OverlayOptions } from "../../lib/mode/overlay";
import { Facts } from "../ui/Facts";
import { HelpTip } from "../ui/HelpTip";
import { Loading } from "../ui/Status";
import { DatasetImageCard } from "./DatasetImageCard";
import { DatasetImageLargeView } from "./DatasetImageLargeView";

const ScoreDistributionChart = lazy(() =>
  import("../charts/ScoreDistributionChart").then((m) => ({ default: m.ScoreDistributionChart })),
);

/** "6.0 % (0.0605)": a share of the attention row with the number it is, so a tiny one never reads as 0. */
export function movedText(fraction: number): string {
  return `${percent(fraction)} (${fmt(fraction)})`;
}

function EffectCard({ image, rank, onOpen }: { image: EffectImage; rank: number; onOpen: () => void }) {
  return (
    <DatasetImageCard image={image} describe={`, #${rank + 1} by attention moved`} onOpen={onOpen}>
      <span className="score">
        #{rank + 1}: moves {movedText(image.effect)}
      </span>
    </DatasetImageCard>
  );
}

export function ModeEffectSection({
  effect,
  missing,
  name,
  at,
  model,
  revision,
  nModes,
  options,
  preprocessing,
  labelHref,
  context,
}: {
  effect: ModeEffect | null;
  /** Why `effect` is null. */
  missing: string | null;
  /** The mode, "L0 H0 M0" (both signs share the effect). */
  name: string;
  /** The signed mode the page shows: the large view's maps are this one's. */
  at: SignedModeAt;
  model: string;
  revision: string;
  nModes: number;
  options: OverlayOptions;
  preprocessing: string;
  labelHref: (label: string) => string;
  context?: TableContext | undefined;
}) {
  const [opened, setOpened] = useState<{ position: number; at: SignedModeAt } | null>(null);
  return (
    <section aria-labelledby="effect-heading">
      <div className="heading-row">
        <h2 id="effect-heading">Attention moved by this mode</h2>
        <HelpTip term="effect" />
      </div>
      {effect === null ? (
        <div className="status status-empty" role="note">
          <strong>Not measured:</strong> {missing ?? "rebuild the atlas with --effects to measure it"}.
        </div>
      ) : (
        <>
          <p className="effect-lead">
            Removing {name} from the head&apos;s logits moves on average <strong>{movedText(effect.mean)}</strong> of
            each patch&apos;s attention row to other keys (mean over {count(effect.count, "image")}; 0 % = the attention
            is unchanged, 100 % = it moves entirely). The score says how strongly the mode could act; this is what it
            does to the softmax, with every other mode of the head in place.
          </p>
          <Facts
            inline
            className="mode-stats"
            items={[
              ["mean ± std", `${movedText(effect.mean)} ± ${fmt(effect.std)}`],
              ["range", `${fmt(effect.minimum)} to ${fmt(effect.maximum)}`],
            ]}
          />
          <Suspense fallback={<Loading label="Loading chart…" />}>
            <ScoreDistributionChart
              title={`Attention moved by ${name} on each of the ${count(effect.count, "image")}`}
              name={name}
              quantity="attention moved (0 to 1)"
              distribution={effect}
              top={effect.top_images.map((image, rank) => ({ rank, score: image.effect }))}
              fileName={[model, `L${at.layer}-H${at.head}-M${at.mode}`, "attention-moved"]}
              context={context}
            />
          </Suspense>
          <p className="muted small">
            Bars: images per bin of the attention moved (a fraction of the row, 0 to 1), the empty bins beyond the first
            and last image left out; band: mean ± std; lines: the {integer(effect.top_images.length)} images below.
          </p>
          <h3>Where it moves the most</h3>
          {effect.top_images.length === 0 ? (
            <p className="muted small">Removing this mode moves no attention on any image of the dataset.</p>
          ) : (
            <ul className="band-images">
              {effect.top_images.map((image, rank) => (
                <EffectCard
                  key={image.image_id}
                  image={image}
                  rank={rank}
                  onOpen={() => setOpened({ position: rank, at })}
                />
              ))}
            </ul>
          )}
          {opened !== null ? (
            <DatasetImageLargeView
              of={{ model, revision, images: effect.top_images }}
              at={opened.at}
              position={opened.position}
              what="image by attention moved"
              nModes={nModes}
              options={options}
              preprocessing={preprocessing}
              labelHref={labelHref}
              onMove={(position, next) => setOpened({ position, at: next })}
              onClose={() => setOpened(null)}
            />
          ) : null}
        </>
      )}
    </section>
  );
}
