"""A figure's caption (its text is paths in the SVG, so the words are checked here, where they are made)."""

from __future__ import annotations

from dataclasses import replace

from backend.core.text import number
from backend.schemas import Basis, Sign
from backend.services.figures import FigureSubject, figure_caption
from backend.services.overlays import OverlayOptions
from qkatlas.render import Channel, Palette

SUBJECT = FigureSubject(
    model_id="facebook/dino-vits16",
    weights_revision="a1b2c3d",
    atlas="facebook--dino-vits16__imagenet-samples",
    atlas_revision="7cfecb2a27f3fa1e",
    dataset="imagenet-samples",
    n_images=1000,
    layer=3,
    head=2,
    mode=0,
    sign=Sign.neg,
    basis=Basis.exact,
)
OPTIONS = OverlayOptions(Channel.both, Palette.red_cyan, blend=1.0, opacity=0.6)


def test_the_caption_names_model_weights_atlas_dataset_and_the_signed_mode() -> None:
    first = figure_caption(SUBJECT, OPTIONS)[0]
    assert first.startswith("L3 H2 M0 (layer 3, head 2, mode 0), sign neg, exact basis.")
    assert "Model facebook/dino-vits16, weights revision a1b2c3d;" in first
    assert "atlas facebook--dino-vits16__imagenet-samples revision 7cfecb2a27f3fa1e;" in first
    assert "dataset imagenet-samples (1,000 images)." in first


def test_a_missing_weights_revision_is_said_not_recorded() -> None:
    assert "weights revision not recorded;" in figure_caption(replace(SUBJECT, weights_revision=None), OPTIONS)[0]


def test_a_head_caption_names_no_mode() -> None:
    first = figure_caption(replace(SUBJECT, mode=None), OPTIONS)[0]
    assert first.startswith("L3 H2 (layer 3, head 2), sign neg, exact basis.") and "mode" not in first.split(".")[0]


def test_the_caption_says_how_the_maps_are_drawn() -> None:
    lines = figure_caption(SUBJECT, OverlayOptions(Channel.key, Palette.orange_blue, blend=0.5, opacity=1.0))
    assert "key map in blue over the image as the model saw it (map opacity 1.00, photo brightness 0.50)" in lines[1]
    assert "query map" not in lines[1]


def test_file_name_names_model_mode_sign_basis_and_revision() -> None:
    assert SUBJECT.filename == "qkatlas_facebook-dino-vits16_L3H2M0_neg_exact_7cfecb2a27f3fa1e"
    assert replace(SUBJECT, mode=None).filename == "qkatlas_facebook-dino-vits16_L3H2_neg_exact_7cfecb2a27f3fa1e"


def test_numbers_are_written_as_the_dashboard_writes_them() -> None:
    # frontend/src/lib/common/format.ts fmt(): fixed decimals, exponents outside [1e-3, 1e4), no "-0.000".
    assert [number(1.23456), number(0.5, 2), number(-0.0001), number(12345.6), number(-0.0), number(1234.5)] == [
        "1.235",
        "0.50",
        "-1.00e-4",
        "1.23e+4",
        "0.000",
        "1,234.500",
    ]
