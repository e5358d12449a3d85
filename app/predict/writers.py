"""What `segcam predict` writes for each picture: NAME_overlay.jpg (the frame with the classes
blended in, and a legend), NAME_mask.png (an indexed PNG: pixel = class id, at the picture's
size, the bundle's palette as its colour table) and, for `--areas`, one table of per-class
areas for the whole run."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.render import Renderer
from models.atomic import write_atomically

AREA_FIELDS = ("name", "source", "frame", "class_id", "class", "pixels", "fraction")
JPEG_QUALITY = 90  # the overlay is for looking at; the mask PNG is the exact result


class WriteError(OSError):
    """An output file that cannot be written (a full disk, no permission): ends the run."""


def mask_png(ids: np.ndarray, palette: np.ndarray) -> bytes:
    """(H, W) uint8 class ids as an indexed PNG: the pixel values are the ids, and viewers show
    the bundle's colours. Read the ids back with `np.asarray(PIL.Image.open(path))`; OpenCV's
    imread expands the palette into colours."""
    image = Image.fromarray(np.ascontiguousarray(ids, np.uint8), mode="P")
    image.putpalette(np.asarray(palette, np.uint8).reshape(-1).tobytes())
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise WriteError(f"{path}: cannot write ({error.strerror or error})") from None


@dataclass
class Writer:
    out: Path
    classes: list[str]
    palette: np.ndarray  # (N, 3) RGB
    alpha: float = 0.5
    areas: str | None = None  # "csv" | "json" | None
    rows: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Background is drawn transparent, as the app's default overlay.hidden does.
        hidden = [name for name in ("background",) if name in self.classes]
        self.renderer = Renderer(self.palette, self.classes, alpha=self.alpha, hidden=hidden,
                                 mode="overlay", legend=True, hud=False)

    def write(self, name: str, source: Path, frame: int | None, image: np.ndarray,
              ids: np.ndarray) -> None:
        _write(self.out / f"{name}_mask.png", mask_png(ids, self.palette))
        ok, jpeg = cv2.imencode(".jpg", self.renderer.annotate(image, ids),
                                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise WriteError(f"{self.out / name}_overlay.jpg: OpenCV cannot encode it")
        _write(self.out / f"{name}_overlay.jpg", jpeg.tobytes())
        if self.areas:
            self._count(name, source, frame, ids)

    def _count(self, name: str, source: Path, frame: int | None, ids: np.ndarray) -> None:
        pixels = np.bincount(ids.ravel(), minlength=len(self.classes))
        total = int(ids.size)
        for class_id, class_name in enumerate(self.classes):
            self.rows.append({"name": name, "source": str(source), "frame": frame,
                              "class_id": class_id, "class": class_name,
                              "pixels": int(pixels[class_id]),
                              "fraction": round(int(pixels[class_id]) / total, 6)})

    def finish(self) -> Path | None:
        """The areas table (areas.csv or areas.json in --out), written whole at the end."""
        if not self.areas:
            return None
        path = self.out / f"areas.{self.areas}"
        if self.areas == "json":
            text = json.dumps(self.rows, indent=1) + "\n"
        else:
            buffer = io.StringIO()
            table = csv.DictWriter(buffer, AREA_FIELDS, lineterminator="\n")
            table.writeheader()
            table.writerows({**row, "frame": "" if row["frame"] is None else row["frame"]}
                            for row in self.rows)
            text = buffer.getvalue()
        try:
            return write_atomically(path, text)
        except OSError as error:
            raise WriteError(f"{path}: cannot write ({error.strerror or error})") from None
