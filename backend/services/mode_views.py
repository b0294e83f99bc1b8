"""What the API answers about one signed mode of an atlas: the mode with its top images, statistics and
class profile, and the overlay of one of its top images (rendered once per revision and options)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from urllib.parse import urlencode

from backend.core.cache import Cache
from backend.schemas import (
    Basis,
    ClassProfile,
    ClassScoreOut,
    CutoffTie,
    DatasetImageRef,
    DistributionBand,
    EffectImage,
    LabelCount,
    ModeDetail,
    ModeEffect,
    ModeMaps,
    ModeSamples,
    SampledImage,
    ScoreDistribution,
    Sign,
    TopImage,
)
from backend.services.atlases import image_id, source_name, thumbnail_url
from backend.services.overlays import OverlayOptions, mode_maps, overlay_png, scale_out
from qkatlas.atlas import Atlas
from qkatlas.atlas.effects import EFFECTS_NOT_COMPUTED
from qkatlas.atlas.evidence import EVIDENCE_RULE, Winner
from qkatlas.atlas.statistics import NOT_COMPUTED, SAMPLES_NOT_COMPUTED, SignedMode
from qkatlas.render import MapScale, map_scale
from qkatlas.ties import TIES_NOT_RECORDED


def _mode_path(atlas: Atlas, layer: int, head: int, mode: int) -> str:
    """The mode's address in the API."""
    return f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{mode}"


def mode_detail(atlas: Atlas, layer: int, head: int, mode: int, basis: Basis, sign: Sign) -> ModeDetail:
    sigma = atlas.sigma(layer, head)
    query = urlencode({"sign": sign.value, "basis": basis.value, "v": atlas.revision})
    top_images = []
    evidence = atlas.evidence(basis, layer, head, mode, sign)
    for winner in evidence.winners:
        index = winner.dataset_index
        record = atlas.image_meta(index)
        image = image_id(atlas, index)
        top = f"{_mode_path(atlas, layer, head, mode)}/top/{winner.rank}"
        top_images.append(
            TopImage(
                rank=winner.rank,
                image_id=image,
                dataset_index=index,
                score=winner.score,
                fires=winner.fires,
                label=record.label if record else None,
                source=source_name(record.source if record else ""),
                thumbnail_url=thumbnail_url(atlas, index),
                overlay_url=f"{top}/overlay.png?{query}",
                maps_url=f"{top}/maps?{query}",
            )
        )
    total = float(sigma.sum())
    statistics = atlas.statistics
    distribution = class_profile = None
    if statistics is not None:
        axis, signed = atlas.basis_axis(basis), SignedMode(layer, head, mode, sign)
        found = statistics.distribution(axis, signed)
        distribution = ScoreDistribution(
            count=found.count,
            firing=found.firing,
            never_fires=found.firing == 0,
            mean=found.mean,
            std=found.std,
            minimum=found.minimum,
            maximum=found.maximum,
            edges=found.edges.tolist(),
            counts=found.counts.tolist(),
            binning=statistics.info.binning,
        )
        if statistics.has_classes:
            labels = Counter(image.label for image in top_images if image.label is not None)
            class_profile = ClassProfile(
                top_classes=[ClassScoreOut(**asdict(score)) for score in statistics.top_classes(axis, signed)],
                top_k_labels=[LabelCount(label=label, count=n) for label, n in labels.most_common()],
                selectivity_rule=statistics.info.selectivity,
            )
    scale = _scale_of(atlas, basis, SignedMode(layer, head, mode, sign), evidence.winners)
    return ModeDetail(
        model=atlas.slug,
        layer=layer,
        head=head,
        mode=mode,
        sign=sign,
        basis=basis,
        sigma=float(sigma[mode]),
        sigma_fraction=float(sigma[mode]) / total if total > 0 else 0.0,
        cos=float(atlas.cos(layer, head)[mode]),
        degenerate=bool(atlas.degenerate(layer, head)[mode]),
        active=bool(atlas.active(layer, head)[mode]),
        top_images=top_images,
        left_out=evidence.left_out,
        evidence_rule=EVIDENCE_RULE,
        distribution=distribution,
        class_profile=class_profile,
        statistics_missing=None if statistics is not None else NOT_COMPUTED,
        map_scale=scale_out(scale) if scale is not None else None,
        effect=mode_effect(atlas, layer, head, mode),
        effect_missing=None if atlas.effects is not None else EFFECTS_NOT_COMPUTED,
        cutoff_tie=_cutoff_tie(atlas, basis, SignedMode(layer, head, mode, sign)),
        ties_missing=None if atlas.manifest.ties is not None else TIES_NOT_RECORDED,
    )


def _cutoff_tie(atlas: Atlas, basis: Basis, mode: SignedMode) -> CutoffTie | None:
    """The last places of the signed mode's top-K that tie with the next image (None when none do)."""
    ties = atlas.manifest.ties
    tied = atlas.cutoff_tie(basis, mode.layer, mode.head, mode.mode, mode.sign)
    if ties is None or tied is None:
        return None
    return CutoffTie(
        first_rank=tied.first,
        last_rank=atlas.top_k - 1,
        next_score=tied.next_score,
        precision=atlas.manifest.run.precision,
        epsilon=ties.epsilon,
        rule=ties.rule,
    )


def _image_ref(atlas: Atlas, index: int) -> DatasetImageRef:
    """Dataset image ``index`` of ``atlas`` as a mode's image lists name it."""
    record = atlas.image_meta(index)
    return DatasetImageRef(
        image_id=image_id(atlas, index),
        dataset_index=index,
        label=record.label if record else None,
        source=source_name(record.source if record else ""),
        thumbnail_url=thumbnail_url(atlas, index),
    )


def mode_effect(atlas: Atlas, layer: int, head: int, mode: int) -> ModeEffect | None:
    """The attention the mode moves over the dataset, with its top images; None when not measured."""
    effects = atlas.effects
    if effects is None:
        return None
    found = effects.mode(layer, head, mode)
    images = []
    for image in found.top:
        images.append(EffectImage(**_image_ref(atlas, image.index).model_dump(), effect=image.effect))
    info = effects.info
    return ModeEffect(
        count=found.count,
        mean=found.mean,
        std=found.std,
        minimum=found.minimum,
        maximum=found.maximum,
        edges=found.edges.tolist(),
        counts=found.counts.tolist(),
        binning=info.binning or "",
        definition=info.definition or "",
        top_images=images,
    )


def mode_samples(atlas: Atlas, layer: int, head: int, mode: int, basis: Basis, sign: Sign) -> ModeSamples:
    """The signed mode's bands with their sampled images (none, with the reason, when the atlas has no samples)."""
    statistics = atlas.statistics
    samples_info = statistics.info.samples if statistics is not None else None
    bands = []
    if statistics is not None and samples_info is not None:
        for band in statistics.bands(atlas.basis_axis(basis), SignedMode(layer, head, mode, sign)):
            images = []
            for sampled in band.images:
                ref = _image_ref(atlas, sampled.index).model_dump()
                images.append(SampledImage(**ref, score=sampled.score, fires=sampled.fires))
            bands.append(
                DistributionBand(
                    band=band.band,
                    low=band.low,
                    high=band.high,
                    first_bin=band.first_bin,
                    n_bins=band.n_bins,
                    count=band.count,
                    images=images,
                )
            )
    missing = NOT_COMPUTED if statistics is None else SAMPLES_NOT_COMPUTED if samples_info is None else None
    return ModeSamples(
        model=atlas.slug,
        layer=layer,
        head=head,
        mode=mode,
        sign=sign,
        basis=basis,
        bands=bands,
        per_band=samples_info.per_band if samples_info is not None else 0,
        rule=samples_info.rule if samples_info is not None else None,
        samples_missing=missing,
    )


def listed_top_images(atlas: Atlas, basis: Basis, mode: SignedMode) -> tuple[Winner, ...]:
    """The top images the mode detail lists (the evidence, best first; a rank is a position here):
    overlays and maps exist for exactly these."""
    return atlas.evidence(basis, mode.layer, mode.head, mode.mode, mode.sign).winners


def _scale_of(atlas: Atlas, basis: Basis, mode: SignedMode, winners: tuple[Winner, ...]) -> MapScale | None:
    if not winners:
        return None
    return map_scale(atlas.maps(basis, mode.layer, mode.head, mode.mode, mode.sign, w.rank) for w in winners)


def mode_scale(atlas: Atlas, basis: Basis, mode: SignedMode) -> MapScale | None:
    """The one colour scale of the signed mode's overlays (docs/method.md#rendering): the largest query and key
    values over the top images it lists; ``None`` when it lists none."""
    return _scale_of(atlas, basis, mode, listed_top_images(atlas, basis, mode))


def top_image_maps(atlas: Atlas, basis: Basis, mode: SignedMode, rank: int) -> ModeMaps:
    """The raw maps of the ``rank``-th top image the signed mode lists (``rank`` < their number), on the mode's
    one colour scale."""
    query, key = atlas.maps(basis, mode.layer, mode.head, mode.mode, mode.sign, rank)
    scale = mode_scale(atlas, basis, mode)
    assert scale is not None, "a listed top image makes the mode's scale"
    return mode_maps(query, key, atlas.image_size, scale)


async def top_image_overlay(
    renders: Cache,
    ttl_s: int,
    atlas: Atlas,
    mode: SignedMode,
    basis: Basis,
    rank: int,
    index: int,
    options: OverlayOptions,
) -> bytes:
    """The overlay PNG of the mode's ``rank``-th top image (dataset ``index``), from ``renders`` when it was
    rendered before. Raises ``AtlasReplaced`` when the thumbnail went with a rebuilt atlas."""
    key = (
        f"qk:overlay:{atlas.slug}:{atlas.revision}:{basis.value}:{mode.layer}:{mode.head}:{mode.mode}:"
        f"{mode.sign.value}:{rank}:{options.cache_key()}"
    )
    data = await renders.get(key)
    if data is None:
        query, key_map = atlas.maps(basis, mode.layer, mode.head, mode.mode, mode.sign, rank)
        photo = atlas.thumbnail(index) if options.blend > 0 else None
        scale = mode_scale(atlas, basis, mode)
        assert scale is not None, "a listed top image makes the mode's scale"
        data = overlay_png(query, key_map, size=atlas.image_size, options=options, scale=scale, photo=photo)
        await renders.set(key, data, ttl_s)
    return data
