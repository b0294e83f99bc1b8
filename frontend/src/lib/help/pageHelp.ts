/** What the "How to read this page" panel says on each kind of page, a few lines each. */

export type PageKind = "home" | "model" | "head" | "mode" | "modeIndex" | "search" | "classes" | "class" | "upload";

export const PAGE_HELP: Record<PageKind, string[]> = {
  home: [
    "Each attention head scores a query token against a key token with a bilinear form; its singular modes (u, σ, v) read: a token like u attends to a token like v, with strength σ.",
    "The chart shows, for every model, the σ-weighted cosine between u and v per layer against normalized depth. High: the layer's heads group similar tokens. Near zero or negative: they bring in context from different tokens.",
    "The band of each model (shaded in its line's colour, between dashed edges; grey when models of one width share it) is where the cosine of two random directions falls 95 % of the time (±1.96/√d): a value inside it is what a head without structure would show.",
    "Pick a model to see its heads, or use the search box (/) to jump to a layer, head, mode or class.",
  ],
  model: [
    "The grid has one cell per head (rows: layers, columns: heads), coloured by its σ-weighted cosine: orange for grouping heads (positive), blue for context heads (negative). The colour scale is fixed from −1 to +1 so that models compare; stretch it to see small differences within this model.",
    "Hatched: an inactive head (every σ = 0). Open a head to see its modes; the arrow keys move in the grid.",
    "The curve is the layer mean of the cosine with the random band; the spectra show how quickly σ falls off within the heads.",
  ],
  head: [
    "The chart shows each mode's σ (bars, largest first) and its cosine u·v (line). A few large σ mean the head does a few things.",
    "The table lists every mode with its best image in the positive sign; the two best scores link to the mode's pos and neg pages.",
    "Degenerate modes share their σ with a neighbour: read them as a pair. Inactive modes (σ = 0) contribute nothing.",
  ],
  mode: [
    "The top images are the dataset's images that score highest for this signed mode: a patch that strongly asks the mode's question (query map) and a patch that strongly answers it (key map).",
    "On each image the query map shows where tokens would send attention along this mode and the key map where they would receive it; the overlay controls pick which map, the palette and how much of the photo shows. Every image of the mode is drawn on one colour scale per map (the numbered bars), so equal colours are equal values; the solid box marks the query map's highest patch and the dashed box the key map's, whose product is the image's score.",
    "pos and neg are two detectors of the same term: switch the sign to see the other one. The exact basis projects what the head really reads; the faithful one is the paper's.",
    "The histogram is the score over the whole dataset, with the top images marked; the class profile lists the classes the mode prefers.",
  ],
  modeIndex: [
    "Every signed mode of the model in one table: a header sorts (again: reverses), the filters narrow it down; the address keeps the view.",
    "σ is the mode's strength, σ share its part of the head's total, cos u·v whether it groups (near 1) or brings in context (near 0 or negative). Best score, mean, std and 'fires on' describe its score over the dataset; selectivity names the class it prefers most.",
  ],
  search: [
    "Everything the query names: models, layers, heads and modes by name (e.g. L6 H2 M3), classes, and the modes most selective for those classes, with their best images.",
    "Selectivity is how many standard deviations the class's images score above the dataset's average for that mode.",
  ],
  classes: [
    "Every class of the served datasets, with how many of its images were scored in each: open a class to see the modes most selective for it in every model.",
    "A selectivity rests on the class's images: with fewer than 5 it is little more than those images' own z-scores, so small classes are marked, and a dataset whose every class is that small cannot rank modes by selectivity.",
  ],
  class: [
    "One class across every served model: in each, the signed modes most selective for it, with their class mean, the images it rests on, and best images.",
    "Compare what each model picks, not the numbers: scores of different models are not on one scale. A class with fewer than 5 images is marked: its ranking is not reliable.",
  ],
  upload: [
    "Drop an image to see which modes it drives. A mode's contribution C_n = σ_n · max(pos score, neg score) ranks the modes within one model.",
    "For the chosen head, each ranked mode's maps on your image stand beside the mode's top images from the dataset. In the exact basis, pick a patch to see its real attention row and the modes that make it up, with the head's key salience.",
    "Remove modes: take chosen modes (or all but the strongest k by σ) out of the head's logits and run the model on, to see how the patch's attention row, the attention of every patch and the model's output change.",
  ],
};
