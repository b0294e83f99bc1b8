/**
 * The one HTTP client of the dashboard, generated from the backend's OpenAPI schema
 * (`npm run gen:client` writes `schema.d.ts`; `npm run check:client` fails when it drifts).
 * URLs are relative: in production the backend serves this app, in development Vite proxies `/api`.
 */
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export const api = createClient<paths>({
  baseUrl: typeof location === "undefined" ? "http://localhost" : location.origin,
  // Resolve `fetch` per call so tests (and polyfills) installed after import are honoured.
  fetch: (request: Request) => globalThis.fetch(request),
});

export type Schemas = components["schemas"];
export type ModelSummary = Schemas["ModelSummary"];
export type ModelDetail = Schemas["ModelDetail"];
export type PlantedMode = Schemas["PlantedMode"];
export type O3Result = Schemas["O3Result"];
export type PrecomputeJob = Schemas["PrecomputeJob"];
export type HeadDetail = Schemas["HeadDetail"];
export type ModeSummary = Schemas["ModeSummary"];
export type ModeDetail = Schemas["ModeDetail"];
export type TopImage = Schemas["TopImage"];
export type CutoffTie = Schemas["CutoffTie"];
export type MapScale = Schemas["MapScaleOut"];
export type ScoreDistribution = Schemas["ScoreDistribution"];
export type ModeEffect = Schemas["ModeEffect"];
export type EffectImage = Schemas["EffectImage"];
export type ModeSamples = Schemas["ModeSamples"];
export type SimilarModes = Schemas["SimilarModes"];
export type ModelSimilarModes = Schemas["ModelSimilarModes"];
export type SimilarMode = Schemas["SimilarMode"];
export type DistributionBand = Schemas["DistributionBand"];
export type SampledImage = Schemas["SampledImage"];
export type ClassProfile = Schemas["ClassProfile"];
export type ModeIndexPage = Schemas["ModeIndexPage"];
export type ModeIndexRow = Schemas["ModeIndexRow"];
export type ModeSortKey = Schemas["ModeSortKey"];
export type SortOrder = Schemas["SortOrder"];
export type SearchResults = Schemas["SearchResults"];
export type NameMatch = Schemas["NameMatch"];
export type ClassModeMatch = Schemas["ClassModeMatch"];
export type ClassAcrossModels = Schemas["ClassAcrossModels"];
export type ClassList = Schemas["ClassList"];
export type ModelClassModes = Schemas["ModelClassModes"];
export type ClassImage = Schemas["ClassImage"];
export type DatasetImageMaps = Schemas["DatasetImageMaps"];
export type Upload = Schemas["Upload"];
export type UploadHeadModes = Schemas["UploadHeadModes"];
export type RankedMode = Schemas["RankedMode"];
export type UploadModelModes = Schemas["UploadModelModes"];
export type ModelRankedMode = Schemas["ModelRankedMode"];
export type AttentionSplit = Schemas["AttentionSplit"];
export type ModeAblation = Schemas["ModeAblation"];
export type ClassChange = Schemas["ClassChange"];
export type DatasetImageUpload = Schemas["DatasetImageUpload"];
export type UploadModeStanding = Schemas["UploadModeStanding"];
export type ScoreStanding = Schemas["ScoreStanding"];
export type ModeList = Schemas["ModeList"];
export type ListedMode = Schemas["ListedMode"];
export type Basis = Schemas["Basis"];
export type Sign = Schemas["Sign"];
export type Channel = Schemas["Channel"];
export type Palette = Schemas["Palette"];
