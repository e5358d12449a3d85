"""The output stage walks a list of outputs: one that breaks is closed and the others go on."""

from __future__ import annotations

import logging

from app.outputs import Output, Rendered
from app.pipeline import Pipeline, RunOptions
from app.segmenter import Segmenter
from tests.app.conftest import decode, pipeline_config


class BrokenOutput(Output):
    """An output with a bug: it raises on its third frame (as a web or RTSP output might)."""

    name = "broken"

    def __init__(self) -> None:
        self.written, self.closed = 0, 0

    def write(self, rendered: Rendered) -> None:
        self.written += 1
        if self.written == 3:
            raise RuntimeError("output bug")

    def close(self) -> None:
        self.closed += 1


def test_a_failing_output_is_closed_and_the_recording_keeps_every_frame(engine, clip, tmp_path,
                                                                         caplog):
    config = pipeline_config(**{"source.uri": str(clip.path), "record.enabled": True,
                                "record.dir": str(tmp_path / "rec"), "record.segment_seconds": 60})
    pipeline = Pipeline(config, engine, RunOptions(headless=True))
    assert pipeline.recording.status == ("waiting", None)
    broken = BrokenOutput()
    pipeline.output.outputs.insert(0, broken)  # before the recorder: its failure comes first
    with caplog.at_level(logging.INFO):
        assert pipeline.run() == 0
    assert broken.written == 3 and broken.closed == 1
    assert pipeline.stats.output.total == clip.frames
    (segment,) = pipeline.recorded_files
    assert len(decode(segment)) == clip.frames
    assert pipeline.recording.status == ("closed", None)
    assert "broken output failed; closing it, the others go on" in caplog.text


def test_outputs_get_the_frame_its_labels_and_the_source_state(engine, clip):
    seen: list[Rendered] = []

    class Collect(Output):
        def write(self, rendered: Rendered) -> None:
            seen.append(rendered)

        def close(self) -> None:
            pass

    pipeline = Pipeline(pipeline_config(**{"source.uri": str(clip.path)}), engine,
                        RunOptions(headless=True))
    pipeline.output.outputs.append(Collect())
    assert pipeline.recording.status == ("off", None)
    assert pipeline.run() == 0
    assert [r.frame.index for r in seen] == list(range(clip.frames))
    first = seen[0]
    assert first.image.shape == (clip.height, clip.width, 3)
    # labels at the letterboxed content's size; the renderer scales them to the frame
    assert first.frame.labels.shape == Segmenter(engine).letterbox(first.frame.image)[1]
    assert first.live is False and first.source_fps == clip.fps
