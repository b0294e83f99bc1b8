"""The build command's model list: repeated --model, presets, and what --help tells about them."""

from __future__ import annotations

import pytest

from precompute.build_command import _model_ids
from precompute.cli import build_parser
from qkatlas.models.known_models import DINOV2_MODELS, PAPER_MODELS


def _models(*args: str) -> tuple[str, ...]:
    return _model_ids(build_parser().parse_args(["build", *args, "--images", "x", "--out", "y"]))


def test_models_are_the_repeated_model_options_then_the_presets_each_once() -> None:
    assert _models("--model", "a", "--model", "b") == ("a", "b")
    assert _models("--models", "paper") == PAPER_MODELS
    assert len(PAPER_MODELS) == 13
    combined = _models("--model", "planted", "--models", "paper+dinov2", "--model", PAPER_MODELS[0])
    assert combined == ("planted", PAPER_MODELS[0], *PAPER_MODELS[1:], *DINOV2_MODELS)


def test_an_unknown_preset_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _models("--models", "everything")
    assert "invalid choice: 'everything'" in capsys.readouterr().err


def test_help_lists_every_model_of_the_presets(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["build", "--help"])
    shown = capsys.readouterr().out
    assert all(model in shown for model in (*PAPER_MODELS, *DINOV2_MODELS))
    assert "paper+dinov2 (19 models)" in shown
