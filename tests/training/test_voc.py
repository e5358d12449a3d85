"""VOC data set on a small VOCdevkit tree with real palette PNGs (and an RGB-mask variant)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import training.datasets.pairs as pairs_module
import training.datasets.voc as voc_module
from models.palette import VOC_CLASSES, voc_palette
from training.datasets.common import DatasetError, colors_to_index
from training.datasets.voc import VOC

H, W = 64, 80
PERSON, CAR, DOG, VOID = 15, 7, 12, 255
IDS = ["2007_000001", "2007_000002", "2007_000003", "2007_000004", "2007_000005"]
# which classes each image holds; images 0, 2 and 4 contain a person
CONTENTS = [[PERSON], [CAR], [PERSON, CAR], [DOG], [PERSON, DOG]]
IMAGE_RGB = (200, 30, 30)  # reddish: a BGR/RGB swap would show


def make_index_mask(classes: list[int], seed: int) -> np.ndarray:
    """Background with one rectangle per class, each with a 2-pixel void (255) border."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), dtype=np.uint8)
    for k, value in enumerate(classes):
        top = 4 + 28 * k + int(rng.integers(0, 4))
        left = 6 + int(rng.integers(0, 30))
        mask[top : top + 24, left : left + 36] = VOID
        mask[top + 2 : top + 22, left + 2 : left + 34] = value
    return mask


def save_palette_png(path: Path, mask: np.ndarray) -> None:
    img = Image.fromarray(mask, mode="P")
    img.putpalette(voc_palette(256).flatten().tolist())
    img.save(path)


def build_voc(root: Path, rgb_masks: bool = False) -> dict[str, np.ndarray]:
    """A VOCdevkit/VOC2012 tree under root; returns the index mask of each id."""
    voc = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    masks = {}
    for n, (image_id, classes) in enumerate(zip(IDS, CONTENTS, strict=True)):
        image = np.empty((H, W, 3), dtype=np.uint8)
        image[:] = IMAGE_RGB
        cv2.imwrite(str(voc / "JPEGImages" / f"{image_id}.jpg"), image[:, :, ::-1])
        mask = make_index_mask(classes, seed=n)
        masks[image_id] = mask
        mask_path = voc / "SegmentationClass" / f"{image_id}.png"
        if rgb_masks:
            Image.fromarray(voc_palette(256)[mask], mode="RGB").save(mask_path)
        else:
            save_palette_png(mask_path, mask)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(IDS) + "\n")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text(IDS[0] + "\n")
    return masks


@pytest.fixture
def voc_tree(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    return tmp_path, build_voc(tmp_path)


def voc_dir(root: Path) -> Path:
    return root / "VOCdevkit" / "VOC2012"


def boom(*args: object, **kwargs: object) -> np.ndarray:
    raise AssertionError("a mask was read")


# -- reading ------------------------------------------------------------------------------------
def test_mask_files_are_real_palette_pngs(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    with Image.open(voc_dir(root) / "SegmentationClass" / f"{IDS[0]}.png") as img:
        assert img.mode == "P"
    # cv2 would expand the palette to colours: that is why indices come from PIL
    assert cv2.imread(str(voc_dir(root) / "SegmentationClass" / f"{IDS[0]}.png")).ndim == 3


def test_palette_masks_are_read_as_indices(voc_tree: tuple[Path, dict]) -> None:
    root, masks = voc_tree
    ds = VOC(root, classes=["person", "car", "dog"], only_with_classes=False)
    assert ds.ids == IDS
    for i, image_id in enumerate(IDS):
        image, index = ds.sample_indices(i)
        assert image.shape == (H, W, 3) and image.dtype == np.uint8
        assert index.dtype == np.uint8
        np.testing.assert_array_equal(index, masks[image_id])
    # RGB order (JPEG is lossy: compare loosely)
    assert np.abs(image.reshape(-1, 3).mean(0) - IMAGE_RGB).max() < 4


def test_rgb_colour_masks_decode_to_the_same_indices(tmp_path: Path) -> None:
    masks = build_voc(tmp_path, rgb_masks=True)
    path = voc_dir(tmp_path) / "SegmentationClass" / f"{IDS[1]}.png"
    with Image.open(path) as img:
        assert img.mode == "RGB"
    ds = VOC(tmp_path, classes=["person", "car"], only_with_classes=False)
    for i, image_id in enumerate(IDS):
        np.testing.assert_array_equal(ds.sample_indices(i)[1], masks[image_id])


def test_unknown_colours_in_rgb_masks_become_void(tmp_path: Path) -> None:
    build_voc(tmp_path, rgb_masks=True)
    path = voc_dir(tmp_path) / "SegmentationClass" / f"{IDS[0]}.png"
    rgb = np.asarray(Image.open(path)).copy()
    rgb[0, :5] = (1, 2, 3)  # not a VOC colour
    Image.fromarray(rgb, mode="RGB").save(path)
    ds = VOC(tmp_path, classes=["person", "car"], only_with_classes=False)
    index = ds.sample_indices(0)[1]
    assert (index[0, :5] == VOID).all()
    assert (ds[0][1][0, :5] == 0).all()


def test_colors_to_index_matches_the_per_colour_loop() -> None:
    palette = voc_palette(256)
    rng = np.random.default_rng(1)
    index = rng.integers(0, 21, size=(30, 40)).astype(np.uint8)
    index[::7] = VOID
    rgb = palette[index]
    rgb[3, 3] = (5, 5, 5)
    loop = np.full((30, 40), VOID, dtype=np.uint8)
    for i, colour in enumerate(palette[:21]):
        loop[np.all(rgb == colour, axis=-1)] = i
    fast = colors_to_index(rgb, palette[:21], void=VOID, void_color=palette[VOID])
    np.testing.assert_array_equal(fast, loop)


# -- one-hot and void ---------------------------------------------------------------------------
def test_single_class_one_hot_and_void_border(voc_tree: tuple[Path, dict]) -> None:
    root, masks = voc_tree
    ds = VOC(root, classes=["person"])
    image, mask = ds[0]
    index = masks[ds.ids[0]]
    assert mask.shape == (H, W, 1) and mask.dtype == np.float32
    np.testing.assert_array_equal(mask[..., 0], (index == PERSON).astype(np.float32))
    assert (index == VOID).any()
    np.testing.assert_array_equal(ds.void_mask(0), index == VOID)


def test_multi_class_one_hot_keeps_void_apart_from_background(voc_tree: tuple[Path, dict]) -> None:
    root, masks = voc_tree
    ds = VOC(root, classes=["person", "car"])  # more than one class: background channel last
    assert ds.channel_names == ds.output_classes == ["person", "car", "background"]
    assert ds.only_with_classes is False and len(ds) == 5
    for i, image_id in enumerate(IDS):
        index = masks[image_id]
        mask = ds[i][1]
        assert mask.shape == (H, W, 3)
        np.testing.assert_array_equal(ds.encode(ds.sample_indices(i)[1]), mask)
        void = index == VOID
        # void is all zeros in every channel: never silently background
        assert (mask[void] == 0).all()
        assert (mask[~void].sum(-1) == 1).all()
        np.testing.assert_array_equal(mask[..., 0] == 1, index == PERSON)
        np.testing.assert_array_equal(mask[..., 1] == 1, index == CAR)
        # unselected classes (dog) are background
        np.testing.assert_array_equal(mask[..., 2] == 1, ~void & (index != PERSON) & (index != CAR))


def test_negative_and_out_of_range_indices(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    ds = VOC(root, classes=["person"])
    np.testing.assert_array_equal(ds[-1][1], ds[len(ds) - 1][1])
    with pytest.raises(IndexError):
        ds[len(ds)]


# -- only_with_classes and its cache ------------------------------------------------------------
def test_only_with_classes_lists_just_the_images_with_a_person(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    ds = VOC(root, classes=["person"])  # on by default for one class
    assert ds.ids == [IDS[0], IDS[2], IDS[4]]
    assert all((ds[i][1] == 1).any() for i in range(len(ds)))


def test_only_with_classes_for_several_classes(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    ds = VOC(root, classes=["car", "dog"], only_with_classes=True)
    assert ds.ids == [IDS[1], IDS[2], IDS[3], IDS[4]]
    with pytest.raises(DatasetError, match="contains cat"):
        VOC(root, classes=["cat"])


def test_cache_is_written_and_second_construction_reads_no_masks(
    voc_tree: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = voc_tree
    first = VOC(root, classes=["person"])
    cache_files = list((root / ".segcam-cache").glob("*.json"))
    assert len(cache_files) == 1
    assert json.loads(cache_files[0].read_text())["ids"] == first.ids

    monkeypatch.setattr(voc_module, "read_index_mask", boom)
    second = VOC(root, classes=["person"])
    assert second.ids == first.ids
    # a different key (split, classes) is not served from that cache
    with pytest.raises(AssertionError, match="a mask was read"):
        VOC(root, classes=["car"])
    with pytest.raises(AssertionError, match="a mask was read"):
        VOC(root, split="val", classes=["person"])


def test_edited_split_file_invalidates_the_cache(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    assert VOC(root, classes=["person"]).ids == [IDS[0], IDS[2], IDS[4]]
    split = voc_dir(root) / "ImageSets" / "Segmentation" / "train.txt"
    split.write_text("\n".join(IDS[:3]) + "\n")
    assert VOC(root, classes=["person"]).ids == [IDS[0], IDS[2]]


def test_explicit_cache_dir_and_unwritable_cache_dir(
    voc_tree: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root, _ = voc_tree
    cache = tmp_path_factory.mktemp("cache")
    VOC(root, classes=["person"], cache_dir=cache)
    assert len(list(cache.glob("*.json"))) == 1
    blocker = cache / "not-a-dir"
    blocker.write_text("")
    ds = VOC(root, classes=["person"], cache_dir=blocker / "sub")  # cannot be created
    assert ds.ids == [IDS[0], IDS[2], IDS[4]]


def test_init_reads_no_files_without_the_scan(
    voc_tree: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = voc_tree
    monkeypatch.setattr(voc_module, "read_index_mask", boom)
    monkeypatch.setattr(pairs_module, "read_rgb", boom)  # samples are read by the shared base
    ds = VOC(root, classes=["person"], only_with_classes=False)
    assert len(ds) == 5


# -- layouts and errors -------------------------------------------------------------------------
@pytest.mark.parametrize("sub", ["", "VOCdevkit", "VOCdevkit/VOC2012"])
def test_root_may_point_at_any_level(voc_tree: tuple[Path, dict], sub: str) -> None:
    root, _ = voc_tree
    ds = VOC(root / sub if sub else root, classes=["person"], only_with_classes=False)
    assert ds.voc_dir == voc_dir(root)
    assert len(ds) == 5


def test_missing_split_file_names_it(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    with pytest.raises(DatasetError, match="split file not found") as err:
        VOC(root, split="test", classes=["person"])
    assert str(voc_dir(root) / "ImageSets" / "Segmentation" / "test.txt") in str(err.value)


def test_missing_root_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no VOC2012 data set"):
        VOC(tmp_path / "nowhere", classes=["person"])


def test_missing_jpeg_names_it(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    jpeg = voc_dir(root) / "JPEGImages" / f"{IDS[1]}.jpg"
    jpeg.unlink()
    ds = VOC(root, classes=["person", "car"])
    with pytest.raises(DatasetError) as err:
        ds[1]
    assert str(jpeg) in str(err.value)


def test_mismatched_sizes_name_both_files(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    mask_path = voc_dir(root) / "SegmentationClass" / f"{IDS[0]}.png"
    save_palette_png(mask_path, np.zeros((H + 2, W), dtype=np.uint8))
    ds = VOC(root, classes=["person", "car"])
    with pytest.raises(DatasetError, match="sizes differ") as err:
        ds[0]
    assert str(mask_path) in str(err.value)
    assert str(voc_dir(root) / "JPEGImages" / f"{IDS[0]}.jpg") in str(err.value)


def test_unknown_class_lists_valid_names(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    with pytest.raises(DatasetError, match="unknown VOC class 'people'") as err:
        VOC(root, classes=["people"])
    for name in VOC_CLASSES[1:]:
        assert name in str(err.value)


def test_background_and_duplicates_are_rejected(voc_tree: tuple[Path, dict]) -> None:
    root, _ = voc_tree
    with pytest.raises(DatasetError, match="background"):
        VOC(root, classes=["background", "person"])
    with pytest.raises(DatasetError, match="twice"):
        VOC(root, classes=["person", "person"])
