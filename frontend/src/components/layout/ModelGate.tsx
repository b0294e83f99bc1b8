/**
 * Resolves and checks a `/m/{model}[/L…/H…[/M…]]` address against the model list before its page
 * renders anything: an unknown or ambiguous model name, a malformed segment or an index out of range
 * gets the not-found page (what exists, links to valid pages, no live control); another name that
 * names one atlas (model slug, model id, also as two segments, short name, slug prefix) is replaced by
 * the canonical address (path rest, query and hash kept).
 */
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import type { ModelSummary } from "../../api/client";
import { useModels } from "../../api/resources";
import { atlasName } from "../../lib/address/atlasNames";
import { count, modeName } from "../../lib/common/format";
import {
  canonicalModelPath,
  checkPosition,
  type Position,
  resolveModelPath,
  segmentFormats,
} from "../../lib/address/modelAddress";
import { headPath, modelPath } from "../../lib/address/paths";
import { useModelRoute } from "../../lib/address/useModelRoute";
import { NotFound, type NotFoundLink } from "./NotFound";
import { Loaded } from "../ui/Status";

/** The address of `position` (a model, head or mode page), keeping the query of a mode page. */
function positionPath(slug: string, { layer, head, mode }: Position, search: string): string {
  if (layer === null || head === null) return modelPath(slug);
  return mode === null ? headPath(slug, layer, head) : `${headPath(slug, layer, head)}/M${mode}${search}`;
}

export interface ModelAddress {
  summary: ModelSummary;
  /** Valid indices (null where the page has none). */
  position: Position;
}

export function ModelGate({ children }: { children: (address: ModelAddress) => ReactNode }) {
  const { model, layer, head, mode, malformed } = useModelRoute();
  const location = useLocation();
  const models = useModels();
  return (
    <Loaded state={models} label="Loading model…" pageTitle={model}>
      {(list) => {
        const { match, name, rest } = resolveModelPath(location.pathname, list);
        const linkTo = (m: ModelSummary): NotFoundLink => ({ label: atlasName(list, m.slug), to: modelPath(m.slug) });
        if (match.kind === "unknown") {
          return (
            <NotFound
              problem={`No model “${name}” is served here.`}
              exists={
                list.length === 0
                  ? "No atlas is served yet."
                  : `${list.length === 1 ? "One model is" : `${count(list.length, "model")} are`} served:`
              }
              links={list.map(linkTo)}
              linksLabel="Served models"
            />
          );
        }
        if (match.kind === "ambiguous") {
          return (
            <NotFound
              problem={`“${name}” names ${count(match.matches.length, "served atlas", "served atlases")}.`}
              exists="Pick one:"
              links={match.matches.map((m) => ({
                label: atlasName(list, m.slug),
                to: canonicalModelPath(m.slug, rest) + location.search,
              }))}
              linksLabel="Atlases with this name"
            />
          );
        }
        const summary = match.model;
        if (match.kind === "short") {
          return <Navigate replace to={canonicalModelPath(summary.slug, rest) + location.search + location.hash} />;
        }
        const toModel = { label: `${summary.model_id}: all its heads`, to: modelPath(summary.slug) };
        if (malformed) {
          return (
            <NotFound
              problem={`This address is not a page of ${summary.model_id}.`}
              exists={segmentFormats(summary)}
              links={[toModel]}
            />
          );
        }
        const position = { layer, head, mode };
        const outOfRange = checkPosition(summary, position);
        if (outOfRange) {
          const nearest = positionPath(summary.slug, outOfRange.nearest, location.search);
          const { layer: l, head: h, mode: m } = outOfRange.nearest;
          const nearestName = l === null ? summary.model_id : modeName(l, h ?? undefined, m ?? undefined);
          return (
            <NotFound
              problem={outOfRange.problem}
              exists={outOfRange.exists}
              links={[toModel, { label: `The nearest that exists: ${nearestName}`, to: nearest }]}
            />
          );
        }
        return children({ summary, position });
      }}
    </Loaded>
  );
}
