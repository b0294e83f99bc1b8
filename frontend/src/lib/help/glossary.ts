/**
 * The dashboard's terms, each with a short definition taken from docs/method.md, for the "?" help next
 * to each place a term appears (`components/ui/HelpTip.tsx`) and for the notes that explain a flag.
 */

export const GLOSSARY = {
  pos: {
    term: "pos",
    text: "The mode's canonical pair (u, v). It fires where query tokens align with u and key tokens with v; the logit contribution σ(u·x_i)(v·x_j) is then positive.",
  },
  neg: {
    term: "neg",
    text: "The pair (−u, −v): the same term of the head, read the other way round. It fires where query tokens are anti-aligned with u and key tokens with v, and its contribution is positive too. Which of the two is 'pos' is only a convention (largest entry of u positive).",
  },
  sign: {
    term: "sign",
    text: "A singular pair is defined only up to a joint sign, so each mode is two detectors: pos (u, v) and neg (−u, −v). Both are real modes of the head, with their own top images.",
  },
  basis: {
    term: "basis",
    text: "Which token vectors are projected onto u and v. Faithful: the residual stream entering the block (the paper's choice). Exact: the LayerNorm output the head really reads, with the query bias folded in.",
  },
  faithful: {
    term: "faithful basis",
    text: "The residual stream entering the block, before its LayerNorm: the paper's choice, which reproduces its figures. An approximation of what the head sees.",
  },
  exact: {
    term: "exact basis",
    text: "What W_q and W_k really receive: LN1 of the residual stream, γ and β included, with the query bias folded in as a constant. In this basis the modes add up to the model's own attention.",
  },
  score: {
    term: "score",
    text: "How strongly an image excites a signed mode (the paper's ranking rule): the largest query-map value times the largest key-map value over the patches (for neg: the smallest times the smallest). Without σ and without a softmax.",
  },
  sigma: {
    term: "σ",
    text: "The mode's singular value: its strength in the head's bilinear form W_qᵀW_k. Modes are sorted by σ, largest first.",
  },
  sigmaShare: {
    term: "σ share",
    text: "The mode's σ divided by the sum of the head's σ: how much of the head's strength this mode carries.",
  },
  cos: {
    term: "cos u·v",
    text: "The cosine between the mode's query direction u and key direction v. Near 1: a token attends to tokens like itself (grouping). Near 0 or negative: it brings in different kinds of token (context).",
  },
  weightedCos: {
    term: "σ-weighted cosine",
    text: "A head's cosines u·v averaged with weights σ_n / Σσ, so strong modes dominate. A layer's value is the mean over its active heads.",
  },
  degenerate: {
    term: "degenerate",
    text: "The mode's σ is within 0.1 % of a neighbour's. Only the plane the two span is determined, so its vectors u and v, its maps and its top images are one arbitrary choice among many: read them together with the neighbour's, not on their own.",
  },
  inactive: {
    term: "inactive",
    text: "σ = 0: the head's W_q or W_k is zero or rank-deficient (as in a pruned or dead head), so the mode never contributes to attention. It has no cosine, no maps and no top images.",
  },
  neverFires: {
    term: "never fires",
    text: "No image makes both the query and the key map peak above 0. Any positive score it has is the product of two negative maxima, so no image excites it: the top images it still lists are each marked 'does not fire'.",
  },
  precision: {
    term: "precision",
    text: "How the scores were computed: bf16 (bfloat16, 8 significant bits), tf32 (float32 tensors whose GPU matmuls round their inputs to 11 bits) or fp32 (float32 throughout, 24 bits). Lower precision is faster; its rounding can decide the order of images whose scores are nearly equal.",
  },
  tie: {
    term: "tie",
    text: "This image's score and the best score left out of the top images lie within the rounding of a score at the atlas's precision (measured against float32 when the job ran): which of them made the list is decided by rounding, not by the mode.",
  },
  quirk: {
    term: "does not fire",
    text: "This image ranks high only through the product of two negative maxima: neither the query map nor the key map peaks above 0 on it, yet the paper's rule multiplies the two into a positive score. It is listed because the score is real, but it does not excite the mode.",
  },
  evidence: {
    term: "evidence",
    text: "A mode lists a top image only when its score is above 0 and above the noise floor: 10⁻⁶ × the largest top-image score of its basis and layer. The paper's rule fills every top-K slot, so without it a mode that no image excites would show images scoring 0, in dataset order.",
  },
  samples: {
    term: "samples across the distribution",
    text: "Besides its top images, every signed mode keeps a few images from each band of its score range: the range of its histogram is cut into 8 bands of 8 bins (scores below or beyond the bins join the end bands), and in each band the precompute keeps the 4 images that come first in a fixed pseudo-random order of the dataset. So they are a fair sample of the band, the same however the job was split or resumed.",
  },
  randomBand: {
    term: "random band",
    text: "The cosine between two independent random directions in R^d has a standard deviation of about 1/√d, so 95 % of them fall within ±1.96/√d (d: the model width). Values inside the band are what a head without structure would show.",
  },
  keySalience: {
    term: "key salience",
    text: "The part of a head's logit that depends on the key alone, the same for every query: the head's 'where does anyone look' preference. It is contained in the sum over modes, and shown on its own for an uploaded image.",
  },
  attentionScale: {
    term: "attention colour scale",
    text: "A key's attention probability p as a multiple of the uniform level 1/N (N keys, prefix tokens included), on a log scale: transparent at 1/N, magenta up to p = 1, darkened down to 1/N² (and below). The scale depends on N only, so a near-uniform row looks near-uniform and rows of one model compare directly.",
  },
  effectiveKeys: {
    term: "entropy and effective number of keys",
    text: "The row's entropy H = −Σ p ln p in nats, over all N keys (prefix tokens included): 0 when one key takes all the attention, ln N when the row is uniform. exp(H) is the effective number of keys: the size of a uniform row with the same entropy, from 1 to N.",
  },
  contribution: {
    term: "contribution C_n",
    text: "Our reconstruction of the paper's 'top modes by contribution': C_n = σ_n · max(pos score, neg score) for one image. It ranks modes within one model only: models' σ and scores are not on one scale.",
  },
  selectivity: {
    term: "selectivity",
    text: "(class mean − mean) / std of the mode's score: how many standard deviations the class's images score above the dataset's average. Only positive values are ranked: a mode lists up to 10 classes, and a class up to 64 modes per basis; inactive modes, modes whose score is constant up to rounding, and classes without images have none.",
  },
  firesOn: {
    term: "fires on",
    text: "The images on which both the query map and the key map of the signed mode peak above 0.",
  },
  effect: {
    term: "attention moved",
    text: "What removing the mode does to the head's real attention (exact basis): its logits σ·P_U[i]·P_V[j]/√d_h are taken out, every other term kept, and the softmax recomputed. Per image, the mean over the patch queries of ½ Σ_j |A_ij − A⁻ⁿ_ij| over all keys: 0 % when nothing changes, 100 % when the attention moves entirely. The score says how strongly a mode could act; this is what it does. One value per mode: both signs share it.",
  },
} as const satisfies Record<string, { term: string; text: string }>;

export type GlossaryTerm = keyof typeof GLOSSARY;
