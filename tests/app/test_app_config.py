from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import ConfigError, load_app_config
from models.settings_file import read_yaml

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_configs_validate_and_resolve_paths():
    demo = load_app_config(ROOT / "configs/app.yaml")
    assert demo.model.bundle == str(ROOT / "models/camvid-unet")
    assert demo.source.uri == str(ROOT / "media/camvid-val.mp4")
    assert Path(demo.source.uri).is_file()
    service = load_app_config(ROOT / "configs/service.yaml")
    assert service.source.uri == "csi://0"
    assert service.model.bundle == "/opt/segcam/app/models/camvid-unet"


def test_overrides_win_over_the_file():
    config = load_app_config(ROOT / "configs/app.yaml", {"source.uri": "test://",
                                                         "record.enabled": False})
    assert config.source.uri == "test://" and config.record.enabled is False


def test_defaults_without_a_file():
    assert load_app_config(None).source.uri == "test://"


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text("display:\n  fulscreen: true\n")
    with pytest.raises(ConfigError, match=r"app.yaml: display.fulscreen: unknown key"):
        load_app_config(path)


# ---- what a settings file can be that is not one: one ConfigError line each --------------

DEEP_FLOW = "source: " + "[" * 5000 + "]" * 5000 + "\n"  # PyYAML recurses once per level
DEEP_BLOCK = "a:" + "".join("\n" + " " * (i + 1) + "b:" for i in range(1100)) + "\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"source:\n  uri: \"\xff\xfe\"\n", r"not UTF-8 text \(byte 0xff at offset 16\)"),
        (DEEP_FLOW.encode(), r"not valid YAML \(nested too deeply\)"),
        (DEEP_BLOCK.encode(), r"not valid YAML \(nested too deeply\)"),
        (b"#" * (2 * 2**20), "larger than 1 MB"),
        (b"source:\n  uri: '   '\n", r"source.uri: empty source URI"),
    ],
)
def test_a_file_that_is_no_settings_file_is_one_error_line(tmp_path, content, expected):
    path = tmp_path / "app.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"^{path}: .*{expected}") as err:
        load_app_config(path)
    assert "\n" not in str(err.value)


def test_special_files_are_refused_without_reading_them(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for path in (Path("/dev/zero"), fifo, tmp_path):
        with pytest.raises(ConfigError, match=rf"^{path}: not a regular file$"):
            load_app_config(path)


def test_the_shared_reader_serves_other_error_types(tmp_path):
    """models/bundle.py reads model.yaml through the same function, raising BundleError."""
    from models.bundle import BundleError

    manifest = tmp_path / "model.yaml"
    manifest.write_text(DEEP_FLOW)
    with pytest.raises(BundleError, match="model.yaml: not valid YAML .nested too deeply."):
        read_yaml(manifest, BundleError)
    manifest.write_text("name: tiny\n")
    assert read_yaml(manifest, BundleError) == {"name": "tiny"}
