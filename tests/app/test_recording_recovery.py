"""Recording after a failure, with real parts: a recorder that cannot open its next segment
stops, keeps what it wrote, and a new one starts once the cause is gone; a segment whose check
cannot run (no descriptor left) is kept, never deleted as if it held no frame."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from app.pipeline import Pipeline, RunOptions
from app.recording.retention import segment_pattern
from tests.app.conftest import PipelineThread, decode, pipeline_config, wait_for

ROOT = Path(__file__).resolve().parents[2]


def segments(folder: Path) -> list[Path]:
    pattern = segment_pattern("seg")
    return sorted(p for p in folder.glob("*.mkv") if pattern.fullmatch(p.name)) \
        if folder.is_dir() else []


def test_recording_resumes_when_its_folder_can_be_written_again(engine, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    record, moved = tmp_path / "rec", tmp_path / "moved"
    config = pipeline_config(**{"source.fps": 15, "record.enabled": True,
                                "record.dir": str(record), "record.segment_seconds": 1,
                                "record.min_free_gb": 0})
    pipeline = Pipeline(config, engine, RunOptions(headless=True))
    running = PipelineThread(pipeline)

    def state() -> str:
        return pipeline.status()["recording"]["state"]

    try:
        wait_for(lambda: len(segments(record)) >= 2, "two segments")
        # The folder goes away and a file takes its name: the next segment cannot be opened.
        record.rename(moved)
        record.write_text("in the way")
        wait_for(lambda: state() == "error", "recording stopped on the error")
        frames = pipeline.stats.output.total
        wait_for(lambda: pipeline.stats.output.total > frames + 15, "the pipeline going on")
        assert pipeline.status()["recording"]["reason"]
        record.unlink()  # the cause is gone
        wait_for(lambda: state() == "recording" and len(segments(record)) >= 2,
                 "recording again, in the folder made anew")
    finally:
        code = running.stop()
    assert code == 0
    log = caplog.text
    assert "recording resumed" in log
    assert "holds no playable frame" not in log
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors  # the failure once; the tries while it lasted say nothing
    before, after = segments(moved), segments(record)
    assert len(before) >= 2 and len(after) >= 2
    for path in before + after:  # what was written before the failure is kept, and plays
        assert decode(path), f"{path} does not decode"


# Run in a child: it takes every descriptor away from its own process on purpose.
NO_DESCRIPTORS = textwrap.dedent("""
    import json, os, resource, sys
    from pathlib import Path
    import numpy as np
    from app.recording import SegmentRecorder
    from app.recording.encoders import load_gst
    from app.recording.segments import SegmentFiles

    folder = Path(sys.argv[1])
    recorder = SegmentRecorder(folder, 15, (160, 120), segment_seconds=60)
    for i in range(30):
        recorder.wait_for_room(5)
        recorder.write(np.full((120, 160, 3), i * 5, np.uint8))
    recorder.close()
    [segment] = recorder.files
    files = SegmentFiles(load_gst(), folder)
    files.opened(segment)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest = os.open(os.devnull, os.O_RDONLY)
    os.close(lowest)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest, hard))  # no open() can succeed now
    files.closed(segment)  # settles it: the demuxer cannot even open the file
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print(json.dumps({"segment": str(segment), "done": [str(p) for p in files.done]}))
""")


def test_a_segment_that_cannot_be_checked_for_want_of_descriptors_is_kept(tmp_path):
    result = subprocess.run([sys.executable, "-c", NO_DESCRIPTORS, str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    segment = Path(answer["segment"])
    assert segment.exists(), result.stderr[-3000:]  # not deleted
    assert answer["done"] == [str(segment)]  # and still counted as a recording
    assert len(decode(segment)) == 30
