"""Two real workers on localhost (gRPC, MultiWorkerMirroredStrategy, ports picked free) train the
tiny Unet: a SIGTERM on one stops both with the state saved, only the chief writes, both end with
the weights the chief saved; a resume continues on both; a killed worker ends the other with one
line, and a resume after it completes.

One test walks the three runs in order: each start of TensorFlow and each trace of the training
step costs tens of seconds on two cores, so the runs share one run folder.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.training.conftest import epochs_in, tiny_config
from tests.training.workers import Worker, start_workers, stop_all

DIGEST = re.compile(r"worker (\d): weights sha256 ([0-9a-f]{16})")
DEADLINE = 600  # generous: two workers tracing on a loaded 2-core machine


def own_temp(worker: Worker) -> list[Path]:
    """What the worker itself left in its TMPDIR (training.distribute.write_folder's folders;
    TensorFlow's autograph also writes its generated modules and their __pycache__ there)."""
    return list(worker.tmp.glob("segcam-*"))


def digests(workers: list[Worker]) -> dict[str, str]:
    return {m[1]: m[2] for w in workers for m in DIGEST.finditer(w.text())}


def saved_digest(path: Path) -> str:
    """The digest of the chief's saved model, as each worker computes it of what it saved."""
    from training.distribute import saved_weights_digest

    return saved_weights_digest(path)


@pytest.fixture
def workers_to_clean():
    started: list[Worker] = []
    yield started
    stop_all(started)


def test_two_workers_stop_resume_lose_a_worker_and_resume(tmp_path, tiny_camvid,
                                                          workers_to_clean):
    config = tiny_config(tiny_camvid, tmp_path / "tiny.yaml")
    run, elsewhere = tmp_path / "run", tmp_path / "worker1-out"

    # 1. A fresh run; worker 1 on "another host" (its own --out). SIGTERM to worker 1 once
    # epoch 2 is under way: both stop after the same batch; the state of epoch 1 is saved.
    # (Each epoch of two workers costs tens of seconds here: one whole epoch before the stop.)
    workers = start_workers(tmp_path, [run, elsewhere], config, "--epochs", "50", tag="first")
    workers_to_clean += workers
    workers[0].wait_for("epoch 2: training crop", DEADLINE)
    workers[1].process.send_signal(signal.SIGTERM)
    codes = [w.finish(DEADLINE) for w in workers]
    assert codes == [130, 130], [w.text()[-2000:] for w in workers]
    assert "SIGTERM: stopping after this batch" in workers[1].text()
    assert "another worker was asked to stop" in workers[0].text()
    # The stop lands in epoch 2 as a rule; on a loaded machine the signal can be answered a
    # little later, after epoch 2 was saved: then both stop in epoch 3 with epoch 2 kept.
    saved = epochs_in(run)
    assert saved in ([1], [1, 2]), saved
    last = saved[-1]
    for name in ("best.weights.h5", "model.h5", "config.yaml", "history.png", "state/checkpoint",
                 f"checkpoints/epoch_{last:03d}.weights.h5"):
        assert (run / name).is_file(), name
    assert any((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert not elsewhere.exists()  # the other worker wrote nothing of its own...
    assert not own_temp(workers[1])  # ...and removed its temporary saves
    assert not list(run.rglob("workertemp_*"))
    found = digests(workers)
    assert found.keys() == {"0", "1"} and found["0"] == found["1"] == saved_digest(
        run / "model.h5")
    # both workers read half of every global batch
    assert all("this worker reads 4 of the 8 training samples" in w.text() for w in workers)

    # 2. Resume on both (the run folder shared, as on NFS): both restore the saved epoch. Kill
    # worker 1 during the next: worker 0 ends with one line within the deadline, the state kept.
    workers = start_workers(tmp_path, [run, run], config, "--resume", "--epochs", "50",
                            tag="resumed")
    workers_to_clean += workers
    workers[1].wait_for(f"epoch {last + 1}: training crop", DEADLINE)
    for worker in workers:
        assert f"at epoch {last}" in worker.text(), worker.text()[-2000:]
    workers[1].process.kill()
    assert workers[0].finish(DEADLINE) == 1
    lines = [line for line in workers[0].text().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, workers[0].text()[-3000:]
    assert re.fullmatch(r"error: worker 0: lost the other workers \(worker 1 stopped "
                        r"(answering|sending heartbeats).*\); the last saved state is in "
                        + re.escape(str(run / "state")) + r": rerun every worker with --resume",
                        lines[0]), lines[0]
    assert "Traceback" not in workers[0].text()
    assert epochs_in(run) == saved  # no epoch completes without the killed worker

    # 3. Resume after the loss: both finish one more epoch with the weights the chief saved.
    workers = start_workers(tmp_path, [run, run], config, "--resume", "--epochs", str(last + 1),
                            tag="after-loss")
    workers_to_clean += workers
    codes = [w.finish(DEADLINE) for w in workers]
    assert codes == [0, 0], [w.text()[-2000:] for w in workers]
    assert epochs_in(run) == list(range(1, last + 2))
    found = digests(workers)
    assert found["0"] == found["1"] == saved_digest(run / "model.h5")
    assert not list(run.rglob("workertemp_*")) and not own_temp(workers[1])
