from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, load_app_config

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
