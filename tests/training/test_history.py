"""history.csv across a resume whose metrics changed: older rows lack the new columns."""

from __future__ import annotations

from pathlib import Path

from training.plots import plot_history
from training.train import read_history, write_history_row


def test_a_metric_added_on_resume_leaves_the_history_readable(tmp_path: Path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,lr,loss,val_loss,miou\n1.0,0.002,2.4,2.5,\n2.0,0.002,2.2,2.4,\n")
    write_history_row(history, {"epoch": 3, "lr": 0.001, "loss": 2.0, "val_loss": 2.3,
                                "miou": 0.3, "val_miou": 0.1})
    write_history_row(history, {"epoch": 4, "lr": 0.001, "loss": 1.9, "val_loss": 2.2,
                                "miou": 0.32, "val_miou": 0.12})
    rows = read_history(history)
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    assert "miou" not in rows[0] and rows[3]["val_miou"] == 0.12
    plot_history(history, tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 1000


def test_epochs_stay_whole_numbers_when_the_file_is_rewritten(tmp_path: Path):
    path = tmp_path / "history.csv"
    for epoch in (1, 2, 3):
        write_history_row(path, {"epoch": epoch, "loss": 1.0 / epoch})
    write_history_row(path, {"epoch": 2, "loss": 0.4})  # a resumed epoch replaces its row
    column = [line.split(",")[0] for line in path.read_text().splitlines()[1:]]
    assert column == ["1", "2", "3"]
    assert [row["loss"] for row in read_history(path)] == [1.0, 0.4, 1.0 / 3]
