"""A conversion replaces its --out folder whole or not at all: one that fails part-way (after
the model files were written) leaves an earlier bundle byte for byte as it was, and where there
was none, no folder at all; one that succeeds keeps the folder's other files (a model card)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from testkit import DECODER

from models.bundle import load_bundle
from tests.models.test_atomic import snapshot
from tests.training.test_one_class import write_person_folder


@pytest.fixture(scope="module")
def person(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(weights, their config, a labelled one-class folder data set with its config)."""
    from training.scratch import make_scratch_checkpoint

    base = tmp_path_factory.mktemp("person")
    data_config = write_person_folder(base / "folder")
    weights, config = make_scratch_checkpoint(base / "run", ["person"], decoder_filters=DECODER,
                                              input_size=(64, 96))
    return weights, config, data_config


def convert_args(person, out: Path, *extra: str) -> list[str]:
    weights, config, _ = person
    return ["convert", "--checkpoint", str(weights), "--config", str(config), "--out", str(out),
            "--formats", "tflite", "--min-parity", "0", *extra]


@pytest.fixture(scope="module")
def converted_once(person, tmp_path_factory) -> Path:
    from training.__main__ import main

    out = tmp_path_factory.mktemp("converted") / "person"
    assert main(convert_args(person, out)) == 0
    (out / "README.md").write_text("the model card\n")
    return out


@pytest.fixture
def earlier_bundle(converted_once: Path, tmp_path: Path) -> Path:
    """A converted bundle with a model card of its own beside the model files (a copy: each
    test converts into it again)."""
    import shutil

    return Path(shutil.copytree(converted_once, tmp_path / "models" / "person"))


def corrupt_copy(data_config: Path, folder: Path) -> Path:
    """The folder data set with one image that is no image: found when scoring, not before."""
    import shutil

    root = Path(yaml.safe_load(data_config.read_text())["data"]["root"])
    shutil.copytree(root, folder)
    (folder / "images" / "p1.png").write_bytes(b"not a png")
    config = yaml.safe_load(data_config.read_text())
    config["data"]["root"] = str(folder)
    path = folder / "person.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_failure_after_the_files_were_written_leaves_the_earlier_bundle(
        person, earlier_bundle: Path, tmp_path: Path, capsys, caplog) -> None:
    from training.__main__ import main

    before = snapshot(earlier_bundle)
    config = corrupt_copy(person[2], tmp_path / "broken")
    with caplog.at_level(logging.INFO, logger="training.convert"):
        code = main(convert_args(person, earlier_bundle, "--eval-data", str(config.parent),
                                 "--eval-config", str(config)))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "wrote model_fp16.tflite" in caplog.text and "scoring fp32" in caplog.text  # part-way
    assert err.count("\n") == 1 and "p1.png" in err, err
    assert snapshot(earlier_bundle) == before
    assert [p.name for p in earlier_bundle.parent.iterdir()] == ["person"]  # no half folder
    assert load_bundle(earlier_bundle).name == "person"


def test_a_bad_eval_data_path_leaves_the_earlier_bundle(person, earlier_bundle: Path,
                                                        tmp_path: Path, capsys) -> None:
    from training.__main__ import main

    before = snapshot(earlier_bundle)
    missing = tmp_path / "nowhere"
    assert main(convert_args(person, earlier_bundle, "--eval-data", str(missing))) == 2
    assert capsys.readouterr().err == f"error: --eval-data: {missing} is not a folder\n"
    assert snapshot(earlier_bundle) == before


def test_a_new_conversion_replaces_the_model_files_and_keeps_the_card(
        person, earlier_bundle: Path) -> None:
    from training.__main__ import main

    old = load_bundle(earlier_bundle)
    assert main(convert_args(person, earlier_bundle, "--name", "person-2")) == 0
    new = load_bundle(earlier_bundle)
    assert new.name == "person-2" and old.name == "person"
    assert (earlier_bundle / "README.md").read_text() == "the model card\n"
    assert sorted(p.name for p in earlier_bundle.iterdir()) == [
        "README.md", "model.yaml", "model_fp16.tflite"]
    assert [p.name for p in earlier_bundle.parent.iterdir()] == ["person"]
