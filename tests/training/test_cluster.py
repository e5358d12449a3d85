"""TF_CONFIG mistakes are one line naming TF_CONFIG, exit 2, before TensorFlow loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.training.conftest import tiny_config
from tests.training.workers import ROOT, tf_config
from training.cluster import read_cluster

TWO = ["localhost:2222", "localhost:2223"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "TF_CONFIG is not set: train.distribute multi_worker reads the cluster"),
        ("{cluster: [", "TF_CONFIG: not valid JSON (Expecting property name"),
        ("[1, 2]", "TF_CONFIG: expected a JSON object with cluster and task"),
        (json.dumps({"task": {"type": "worker", "index": 0}}), "TF_CONFIG: missing cluster"),
        (json.dumps({"cluster": {"worker": TWO}}), "TF_CONFIG: missing task"),
        (tf_config(TWO, 2), "TF_CONFIG: task.index 2 is out of range: cluster.worker has 2 "
                            "addresses (0..1)"),
        (tf_config(TWO, -1), "TF_CONFIG: task.index -1 is out of range"),
        (json.dumps({"cluster": {"worker": TWO}, "task": {"type": "ps", "index": 0}}),
         "TF_CONFIG: task.type 'ps' is not a job of the cluster (worker)"),
        (json.dumps({"cluster": {"worker": ["localhost"]}, "task": {"type": "worker",
                                                                    "index": 0}}),
         "TF_CONFIG: cluster.worker: 'localhost' is not \"host:port\""),
        (json.dumps({"cluster": {"worker": TWO, "ps": ["h:1"]},
                     "task": {"type": "worker", "index": 0}}),
         "TF_CONFIG: cluster.ps: multi_worker trains with chief and worker tasks only"),
        (tf_config([TWO[0], TWO[0]], 0), "TF_CONFIG: localhost:2222 is given to more than one"),
    ],
)
def test_a_bad_tf_config_is_one_line_exit_2(tmp_path, tiny_camvid, monkeypatch, capsys, value,
                                             message):
    from training.__main__ import main

    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    config = tiny_config(tiny_camvid, tmp_path / "tiny.yaml")
    code = main(["train", "--config", str(config), "--out", str(tmp_path / "run"),
                 "--distribute", "multi_worker"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {message}"), err
    assert not (tmp_path / "run").exists()


def test_the_cluster_names_the_chief_as_tensorflow_does():
    worker0 = read_cluster({"TF_CONFIG": tf_config(TWO, 0)})
    assert worker0.is_chief and worker0.n_workers == 2 and worker0.task == "worker 0"
    assert not read_cluster({"TF_CONFIG": tf_config(TWO, 1)}).is_chief
    with_chief = {"cluster": {"chief": ["h:1"], "worker": TWO}, "task": {"type": "worker",
                                                                         "index": 0}}
    assert not read_cluster({"TF_CONFIG": json.dumps(with_chief)}).is_chief
    with_chief["task"] = {"type": "chief", "index": 0}
    chief = read_cluster({"TF_CONFIG": json.dumps(with_chief)})
    assert chief.is_chief and chief.n_workers == 3


def test_the_command_line_refuses_a_bad_tf_config_before_tensorflow_loads(tmp_path,
                                                                          tiny_camvid):
    config = tiny_config(tiny_camvid, tmp_path / "tiny.yaml", distribute="multi_worker")
    env = {"PATH": "/usr/bin:/bin", "TF_CONFIG": "not json", "SEGCAM_MALLOC": "system"}
    code = ("import sys, runpy; sys.argv = ['training'] + sys.argv[1:]; "
            "from training.__main__ import main; rc = main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, "train", "--config", str(config),
                             "--out", str(tmp_path / "run")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == ("error: TF_CONFIG: not valid JSON (Expecting value: line 1 "
                                     "column 1 (char 0))")
