"""Write docs/demo-frame.png: one frame of the demo clip as the app renders it (README picture).

    .venv/bin/python scripts/demo_frame.py [--frame 60] [--out docs/demo-frame.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import load_app_config  # noqa: E402
from app.render import Renderer  # noqa: E402
from app.segmenter import Segmenter  # noqa: E402
from models.engines import open_engine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "configs/app.yaml"))
    parser.add_argument("--frame", type=int, default=60)
    parser.add_argument("--out", default=str(ROOT / "docs/demo-frame.png"))
    args = parser.parse_args()
    config = load_app_config(args.config)
    capture = cv2.VideoCapture(config.source.uri)
    capture.set(cv2.CAP_PROP_POS_FRAMES, args.frame)
    ok, frame = capture.read()
    if not ok:
        print(f"error: {config.source.uri}: no frame {args.frame}", file=sys.stderr)
        return 2
    engine = open_engine(config.model.bundle, backend="litert")
    labels = Segmenter(engine).segment(frame)
    overlay = config.overlay
    renderer = Renderer(engine.palette, engine.classes, alpha=overlay.alpha,
                        hidden=[h for h in overlay.hidden if h in engine.classes],
                        mode="side-by-side", legend=True, hud=False)
    picture = renderer.annotate(frame, labels)
    cv2.imwrite(args.out, picture)
    print(f"wrote {args.out} ({picture.shape[1]}x{picture.shape[0]}, classes "
          f"{sorted({engine.classes[i] for i in np.unique(labels)})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
