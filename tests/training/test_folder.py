"""Folder data set (a user's images + masks) and the shared helpers in training.datasets.common."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from training.datasets.common import (
    DatasetError,
    check_pair,
    colors_to_index,
    one_hot,
    read_index_mask,
    read_rgb,
)
from training.datasets.folder import Folder

H, W = 48, 64
CRACK, HOLE, VOID = 1, 2, 255
RED, GREEN, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (255, 255, 255), (0, 0, 0)
COLOURS = {0: BLACK, CRACK: RED, HOLE: GREEN, VOID: WHITE}
# stem -> image extension; a mix of the accepted formats
IMAGES = {"a": ".png", "b": ".jpg", "c": ".bmp", "d": ".jpeg"}


def make_index_mask(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), dtype=np.uint8)
    top, left = int(rng.integers(0, 10)), int(rng.integers(0, 10))
    mask[top : top + 20, left : left + 20] = CRACK
    mask[30:40, 30 + seed : 50 + seed] = HOLE
    mask[0, :] = VOID
    return mask


def build_folder(root: Path, colour: bool = False, suffix: str = ".png") -> dict[str, np.ndarray]:
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    truth = {}
    for n, (stem, ext) in enumerate(IMAGES.items()):
        image = np.full((H, W, 3), (10, 100, 220), dtype=np.uint8)  # RGB
        cv2.imwrite(str(images / f"{stem}{ext}"), image[:, :, ::-1])
        mask = make_index_mask(n)
        truth[stem] = mask
        if colour:
            lut = np.zeros((256, 3), dtype=np.uint8)
            for value, rgb in COLOURS.items():
                lut[value] = rgb
            Image.fromarray(lut[mask], mode="RGB").save(masks / f"{stem}{suffix}")
        else:
            cv2.imwrite(str(masks / f"{stem}{suffix}"), mask)
    (images / "notes.txt").write_text("not an image")
    (images / ".hidden.png").write_bytes(b"")
    return truth


@pytest.fixture
def index_folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    return tmp_path, build_folder(tmp_path)


@pytest.fixture
def colour_folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    return tmp_path, build_folder(tmp_path, colour=True)


# -- index masks --------------------------------------------------------------------------------
def test_index_masks_with_listing_ids(index_folder: tuple[Path, dict]) -> None:
    root, truth = index_folder
    ds = Folder(root / "images", root / "masks", classes=["crack", "hole"], void_value=VOID)
    assert ds.ids == ["a", "b", "c", "d"]  # sorted listing, non-images and hidden files skipped
    assert ds.class_values == [1, 2]  # default: 0 is background
    assert ds.channel_names == ds.output_classes == ["crack", "hole", "background"]
    for i, stem in enumerate(ds.ids):
        image, mask = ds[i]
        index = truth[stem]
        assert image.shape == (H, W, 3) and image.dtype == np.uint8
        assert mask.shape == (H, W, 3) and mask.dtype == np.float32
        np.testing.assert_array_equal(ds.sample_indices(i)[1], index)
        np.testing.assert_array_equal(ds.encode(index), mask)
        np.testing.assert_array_equal(mask[..., 0] == 1, index == CRACK)
        np.testing.assert_array_equal(mask[..., 1] == 1, index == HOLE)
        np.testing.assert_array_equal(mask[..., 2] == 1, index == 0)
        assert (mask[index == VOID] == 0).all()
        np.testing.assert_array_equal(ds.void_mask(i), index == VOID)
    assert np.abs(ds[0][0].reshape(-1, 3).mean(0) - (10, 100, 220)).max() < 1  # PNG: exact RGB


def test_explicit_values_single_class(index_folder: tuple[Path, dict]) -> None:
    root, truth = index_folder
    ds = Folder(root / "images", root / "masks", classes=["hole"], values=[HOLE])
    mask = ds[1][1]
    assert mask.shape == (H, W, 1)
    np.testing.assert_array_equal(mask[..., 0] == 1, truth["b"] == HOLE)
    assert not ds.void_mask(1).any()  # no void declared


def test_palette_png_index_masks_are_read_as_indices(index_folder: tuple[Path, dict]) -> None:
    root, truth = index_folder
    img = Image.fromarray(truth["a"], mode="P")
    img.putpalette([200, 0, 0] * 256)  # colours do not matter in index mode
    img.save(root / "masks" / "a.png")
    ds = Folder(root / "images", root / "masks", classes=["crack", "hole"])
    np.testing.assert_array_equal(ds.sample_indices(0)[1], truth["a"])


def test_split_file_ids_with_and_without_extension(index_folder: tuple[Path, dict]) -> None:
    root, _ = index_folder
    split = root / "val.txt"
    split.write_text("# validation\nc\n\nb.jpg\n")
    ds = Folder(root / "images", root / "masks", ids=str(split), classes=["crack"])
    assert ds.ids == ["c", "b"]
    assert ds.image_path(0).name == "c.bmp" and ds.image_path(1).name == "b.jpg"
    assert ds[1][1].shape == (H, W, 1)


def test_id_list_and_unknown_id(index_folder: tuple[Path, dict]) -> None:
    root, _ = index_folder
    ds = Folder(root / "images", root / "masks", ids=["d", "a"], classes=["crack"])
    assert ds.ids == ["d", "a"]
    with pytest.raises(DatasetError, match="no image for id 'zz'"):
        Folder(root / "images", root / "masks", ids=["a", "zz"], classes=["crack"])


def test_missing_split_file_names_it(index_folder: tuple[Path, dict]) -> None:
    root, _ = index_folder
    with pytest.raises(DatasetError, match="split file not found") as err:
        Folder(root / "images", root / "masks", ids=root / "nope.txt", classes=["crack"])
    assert str(root / "nope.txt") in str(err.value)


def test_missing_mask_names_image_and_expected_mask(index_folder: tuple[Path, dict]) -> None:
    root, _ = index_folder
    (root / "masks" / "c.png").unlink()
    with pytest.raises(DatasetError, match="no mask for image") as err:
        Folder(root / "images", root / "masks", classes=["crack"])
    assert str(root / "images" / "c.bmp") in str(err.value)
    assert str(root / "masks" / "c.png") in str(err.value)


def test_mask_removed_after_init_is_reported_at_read(index_folder: tuple[Path, dict]) -> None:
    root, _ = index_folder
    ds = Folder(root / "images", root / "masks", classes=["crack"])
    (root / "masks" / "b.png").unlink()
    with pytest.raises(DatasetError, match="no mask for image") as err:
        ds[1]
    assert str(root / "masks" / "b.png") in str(err.value)


def test_mask_suffix(tmp_path: Path) -> None:
    truth = build_folder(tmp_path, suffix="_mask.png")
    ds = Folder(tmp_path / "images", tmp_path / "masks", classes=["crack"], mask_suffix="_mask.png")
    assert ds.mask_path(0).name == "a_mask.png"
    np.testing.assert_array_equal(ds[0][1][..., 0] == 1, truth["a"] == CRACK)


def test_size_mismatch_names_both(index_folder: tuple[Path, dict]) -> None:
    root, _ = index_folder
    cv2.imwrite(str(root / "masks" / "d.png"), np.zeros((H, W + 1), dtype=np.uint8))
    ds = Folder(root / "images", root / "masks", classes=["crack"])
    with pytest.raises(DatasetError, match="sizes differ") as err:
        ds[3]
    assert str(root / "images" / "d.jpeg") in str(err.value)
    assert str(root / "masks" / "d.png") in str(err.value)


def test_colour_mask_in_index_mode_is_an_error(colour_folder: tuple[Path, dict]) -> None:
    root, _ = colour_folder
    ds = Folder(root / "images", root / "masks", classes=["crack"])
    with pytest.raises(DatasetError, match="colour mask") as err:
        ds[0]
    assert str(root / "masks" / "a.png") in str(err.value)


def test_duplicate_stems_and_empty_folder(tmp_path: Path) -> None:
    build_folder(tmp_path)
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.zeros((H, W, 3), np.uint8))
    with pytest.raises(DatasetError, match="share the stem 'a'"):
        Folder(tmp_path / "images", tmp_path / "masks", classes=["crack"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        Folder(tmp_path / "empty", tmp_path / "masks", classes=["crack"])
    with pytest.raises(DatasetError, match="images directory not found"):
        Folder(tmp_path / "missing", tmp_path / "masks", classes=["crack"])


# -- colour masks -------------------------------------------------------------------------------
def test_colour_masks(colour_folder: tuple[Path, dict]) -> None:
    root, truth = colour_folder
    ds = Folder(
        root / "images",
        root / "masks",
        classes=["crack", "hole"],
        colors=[list(RED), list(GREEN)],
        void_color=list(WHITE),
    )
    for i, stem in enumerate(ds.ids):
        index = truth[stem]
        codes = ds.sample_indices(i)[1]
        expected = np.select([index == CRACK, index == HOLE, index == VOID], [0, 1, 255], 2)
        np.testing.assert_array_equal(codes, expected)
        mask = ds[i][1]
        assert mask.shape == (H, W, 3)
        np.testing.assert_array_equal(mask[..., 0] == 1, index == CRACK)
        np.testing.assert_array_equal(mask[..., 1] == 1, index == HOLE)
        np.testing.assert_array_equal(mask[..., 2] == 1, index == 0)  # unlisted black: background
        assert (mask[index == VOID] == 0).all()
        np.testing.assert_array_equal(ds.void_mask(i), index == VOID)


def test_palette_png_colour_masks_decode_through_colours(colour_folder: tuple[Path, dict]) -> None:
    root, truth = colour_folder
    # palette order deliberately different from the class order
    img = Image.fromarray(
        np.select([truth["a"] == CRACK, truth["a"] == HOLE], [7, 3], 0).astype(np.uint8), mode="P"
    )
    palette = [0, 0, 0] * 256
    palette[7 * 3 : 7 * 3 + 3] = RED
    palette[3 * 3 : 3 * 3 + 3] = GREEN
    img.putpalette(palette)
    img.save(root / "masks" / "a.png")
    ds = Folder(root / "images", root / "masks", classes=["crack", "hole"], colors=[RED, GREEN])
    mask = ds[0][1]
    np.testing.assert_array_equal(mask[..., 0] == 1, truth["a"] == CRACK)
    np.testing.assert_array_equal(mask[..., 1] == 1, truth["a"] == HOLE)


def test_bad_encoding_arguments(index_folder: tuple[Path, dict]) -> None:
    root, _ = index_folder
    args = (root / "images", root / "masks")
    with pytest.raises(DatasetError, match="not both"):
        Folder(*args, classes=["crack"], values=[1], colors=[RED])
    with pytest.raises(DatasetError, match="one mask value per class"):
        Folder(*args, classes=["crack", "hole"], values=[1])
    with pytest.raises(DatasetError, match="one \\[r, g, b\\] colour per class"):
        Folder(*args, classes=["crack", "hole"], colors=[RED])
    with pytest.raises(DatasetError, match="not a class value"):
        Folder(*args, classes=["crack"], values=[1], void_value=1)
    with pytest.raises(DatasetError, match="background"):
        Folder(*args, classes=["background", "crack"])


# -- shared helpers -----------------------------------------------------------------------------
def test_one_hot_rules() -> None:
    mask = np.array([[0, 1, 2], [3, 255, 1]], dtype=np.uint8)
    single = one_hot(mask, [1], add_background=False, void=255)
    assert single.shape == (2, 3, 1) and single.dtype == np.float32
    assert single[..., 0].tolist() == [[0, 1, 0], [0, 0, 1]]
    multi = one_hot(mask, [1, 2], add_background=True, void=255)
    assert multi.shape == (2, 3, 3)
    assert multi[..., 2].tolist() == [[1, 0, 0], [1, 0, 0]]  # 0 and 3 are background, 255 is not
    assert multi[1, 1].tolist() == [0, 0, 0]
    no_void = one_hot(mask, [1, 2], add_background=True)
    assert no_void[1, 1].tolist() == [0, 0, 1]  # without a void value 255 is just another value


def test_colors_to_index_unknown_and_void() -> None:
    rgb = np.array([[RED, GREEN, WHITE, (9, 9, 9)]], dtype=np.uint8)
    assert colors_to_index(rgb, [RED, GREEN]).tolist() == [[0, 1, 255, 255]]
    assert colors_to_index(rgb, [RED, GREEN], void_color=WHITE, unknown=2).tolist() == [
        [0, 1, 255, 2]
    ]
    with pytest.raises(DatasetError):
        colors_to_index(rgb[..., :2], [RED])


def test_readers_and_check_pair_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="image not found") as err:
        read_rgb(tmp_path / "x.jpg")
    assert str(tmp_path / "x.jpg") in str(err.value)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="cannot read image"):
        read_rgb(bad)
    with pytest.raises(DatasetError, match="cannot read mask"):
        read_index_mask(bad)
    with pytest.raises(DatasetError, match="mask not found"):
        read_index_mask(tmp_path / "none.png")
    wide = tmp_path / "wide.png"
    cv2.imwrite(str(wide), np.full((4, 5), 300, dtype=np.uint16))
    with pytest.raises(DatasetError, match="outside 0..255"):
        read_index_mask(wide)
    with pytest.raises(DatasetError, match="sizes differ: i.jpg is 5x4, m.png is 5x3"):
        check_pair("i.jpg", "m.png", np.zeros((4, 5, 3)), np.zeros((3, 5)))
