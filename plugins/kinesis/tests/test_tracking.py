"""Checkpoints cover only the contiguous acked prefix; acked runs past it are skipped later."""

from __future__ import annotations

from jobqueue_kinesis.tracking import AckTracker


def _tracker(*sequences: str) -> AckTracker:
    tracker = AckTracker()
    for sequence in sequences:
        assert tracker.delivered(sequence)
    return tracker


def test_checkpoint_waits_for_the_oldest_unacked_delivery() -> None:
    """With 1, 2, 3 delivered and 1, 3 acked the checkpoint is 1; acking 2 moves it to 3."""
    tracker = _tracker("1", "2", "3")
    tracker.ack("3")
    assert tracker.advance() is None
    tracker.ack("1")
    assert tracker.advance() == "1"
    assert tracker.runs() == [("3", "3")]
    tracker.ack("2")
    assert tracker.advance() == "3"
    assert tracker.runs() == []
    assert tracker.idle


def test_acked_runs_group_consecutive_deliveries() -> None:
    """Runs are maximal stretches of acked deliveries between un-acked ones."""
    tracker = _tracker("10", "20", "30", "40", "50", "60")
    for sequence in ("20", "30", "50"):
        tracker.ack(sequence)
    assert tracker.advance() is None
    assert tracker.runs() == [("20", "30"), ("50", "50")]
    assert tracker.unacked == 3


def test_unknown_and_repeated_acks_are_ignored() -> None:
    """An ack of something never delivered, or acked already, changes nothing."""
    tracker = _tracker("1")
    assert tracker.ack("1")
    assert not tracker.ack("1")
    assert not tracker.ack("99")
    assert tracker.advance() == "1"


def test_inherited_runs_are_skipped_and_still_count_for_the_checkpoint() -> None:
    """Records a previous owner acked past its checkpoint are not handed out again."""
    tracker = AckTracker(skip=[("20", "30"), ("50", "50")])
    handed_out = [
        seq for seq in ("10", "20", "25", "30", "40", "50", "60") if tracker.delivered(seq)
    ]
    assert handed_out == ["10", "40", "60"]
    assert tracker.runs() == [("20", "30"), ("50", "50")]
    tracker.ack("10")
    assert tracker.advance() == "30"
    tracker.ack("40")
    assert tracker.advance() == "50"
    assert not tracker.idle
    tracker.ack("60")
    assert tracker.advance() == "60"
    assert tracker.idle


def test_inherited_runs_not_read_yet_are_kept() -> None:
    """A new owner that checkpoints before reading far keeps the runs it has not reached."""
    tracker = AckTracker(skip=[("20", "30"), ("50", "50")])
    assert tracker.delivered("10")
    tracker.ack("10")
    assert tracker.advance() == "10"
    assert tracker.runs() == [("20", "30"), ("50", "50")]
