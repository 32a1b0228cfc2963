import subprocess
import sys

import core
from core.cli import main


def test_train_then_eval_on_an_image_folder(tmp_path, capsys):
    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=6, per_class=5)
    ckpt = tmp_path / "m.pt"
    rc = main(["train", "-a", "protonet", "--source", "folder", "--data", str(root), "--train-split", "train", "--val-split", "train",
               "--way", "3", "--shot", "1", "--query", "2", "--steps", "4", "--val-every", "2", "--val-episodes", "3",
               "--hp", "hidden=8", "--hp", "train_way=4", "--hp", "train_query=2", "--out", str(ckpt), "--device", "cpu", "--eval-episodes", "5", "--eval-ways", "3"])
    out = capsys.readouterr().out
    assert rc == 0 and ckpt.is_file(), out
    assert "finished: 4 steps" in out and "3-way 1-shot, 5 episodes" in out
    rc = main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--way", "3", "--query", "2", "--episodes", "4", "--device", "cpu"])
    assert rc == 0 and "4 episodes" in capsys.readouterr().out
    # a test-time override is applied to the loaded checkpoint; a bad one is a clear error
    rc = main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--way", "3", "--query", "2", "--episodes", "2", "--device", "cpu",
               "--hp", "bn_mode=transductive"])
    assert rc == 0 and "overridden: bn_mode=transductive" in capsys.readouterr().out
    rc = main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--episodes", "2", "--device", "cpu", "--hp", "nope=1"])
    assert rc == 2 and "unknown hyperparameter" in capsys.readouterr().err
    # --vs: the same checkpoint under other test-time settings, paired over the same episodes
    rc = main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--way", "3", "--query", "2", "--episodes", "6", "--device", "cpu",
               "--vs", "bn_mode=running"])
    out = capsys.readouterr().out
    assert rc == 0 and "versus bn_mode=running" in out
    assert "difference +0.00 points" in out and "p = 1 (none, 0 non-zero differences)" in out  # identical settings: identical episodes
    rc = main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--way", "3", "--query", "2", "--episodes", "6", "--device", "cpu",
               "--vs", "bn_mode=transductive"])
    out = capsys.readouterr().out
    assert rc == 0 and "paired over the same 6 episodes" in out and "Wilcoxon signed-rank p = " in out
    assert main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--episodes", "2", "--device", "cpu", "--vs", "nope=1"]) == 2
    assert "--vs" in capsys.readouterr().err


def test_clear_errors_exit_2(tmp_path, capsys):
    assert main(["train", "--source", "folder", "--data", str(tmp_path / "missing"), "--steps", "1"]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "x.pt").write_text("no")
    assert main(["eval", str(tmp_path / "x.pt")]) == 2
    assert "not a Few-Shot Studio checkpoint" in capsys.readouterr().err


def test_list_shows_every_registered_algorithm(capsys):
    main(["list"])
    out = capsys.readouterr().out
    for name in core.ALGORITHMS:
        assert name in out


def test_train_preset_applies_the_measured_settings_under_hp_overrides(tmp_path, capsys):
    main(["list"])
    assert "--preset measured: cosine_scale=10.0" in capsys.readouterr().out  # Matching Networks' preset
    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=20, per_class=3)
    ckpt = tmp_path / "m.pt"
    assert main(["train", "-a", "matching", "--source", "folder", "--data", str(root), "--train-split", "all",
                 "--preset", "measured", "--hp", "train_query=2", "--steps", "1", "--val-episodes", "0",
                 "--eval-episodes", "0", "--device", "cpu", "--out", str(ckpt)]) == 0
    hp = core.read_checkpoint(ckpt)["hparams"]
    assert hp["cosine_scale"] == 10.0 and hp["train_way"] == 20 and hp["lr_schedule"] == "budget" and hp["train_query"] == 2
    capsys.readouterr()
    assert main(["train", "-a", "maml", "--preset", "measured", "--steps", "1"]) == 2
    assert "maml has no preset 'measured'" in capsys.readouterr().err


def test_bench_runs_and_reports_ratios():
    res = subprocess.run([sys.executable, "-m", "core", "bench", "--algorithms", "protonet", "--rounds", "1", "--seconds", "0.2", "--device", "cpu"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "protonet" in res.stdout and "× the bare ProtoNet step" in res.stdout


def test_eval_per_instance_reports_mann_accuracy_by_presentation(tmp_path, capsys):
    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=6, per_class=5)
    ckpt = tmp_path / "mann.pt"
    hp = ["--hp", "classes=3", "--hp", "instances=2", "--hp", "controller=16", "--hp", "memory_slots=8", "--hp", "memory_width=8",
          "--hp", "read_heads=1", "--hp", "meta_batch_size=2", "--hp", "image_size=8"]
    assert main(["train", "-a", "mann", "--source", "folder", "--data", str(root), "--way", "3", "--shot", "1", "--query", "1",
                 "--steps", "2", "--val-episodes", "0", "--eval-episodes", "2", "--eval-ways", "3", "--out", str(ckpt), "--device", "cpu", *hp]) == 0
    capsys.readouterr()
    assert main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--episodes", "4", "--device", "cpu", "--per-instance"]) == 0
    out = capsys.readouterr().out
    assert "3 classes × 2 instances, 4 sequences" in out and "by presentation: 1: " in out and ", 2: " in out
    proto = tmp_path / "p.pt"
    assert main(["train", "-a", "protonet", "--source", "folder", "--data", str(root), "--way", "3", "--query", "1", "--steps", "1",
                 "--val-episodes", "0", "--eval-episodes", "1", "--eval-ways", "3", "--hp", "hidden=8", "--hp", "train_way=3", "--hp", "train_query=1", "--out", str(proto), "--device", "cpu"]) == 0
    assert main(["eval", str(proto), "--source", "folder", "--data", str(root), "--episodes", "2", "--device", "cpu", "--per-instance"]) == 2
    assert "MANN sequence protocol" in capsys.readouterr().err


def test_size_option_trains_at_that_size_and_eval_uses_the_checkpoints_own_size(tmp_path, capsys):
    import pytest

    from core.checkpoint import load_checkpoint
    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=6, per_class=5)
    ckpt = tmp_path / "koch.pt"
    assert main(["train", "-a", "siamese", "--source", "folder", "--data", str(root), "--size", "65", "--way", "3", "--query", "1",
                 "--steps", "1", "--val-episodes", "0", "--eval-episodes", "1", "--eval-ways", "3", "--hp", "backbone=koch",
                 "--hp", "train_way=3", "--hp", "train_query=1", "--out", str(ckpt), "--device", "cpu"]) == 0
    learner, _ = load_checkpoint(ckpt, "cpu")
    assert tuple(learner.spec.size) == (65, 65)
    capsys.readouterr()
    assert main(["eval", str(ckpt), "--source", "folder", "--data", str(root), "--way", "3", "--query", "1", "--episodes", "2", "--device", "cpu"]) == 0
    assert "2 episodes" in capsys.readouterr().out
    # at the default 28×28 the paper's Koch network refuses, with the reason
    assert main(["train", "-a", "siamese", "--source", "folder", "--data", str(root), "--way", "3", "--query", "1", "--steps", "1",
                 "--val-episodes", "0", "--eval-episodes", "0", "--hp", "backbone=koch", "--device", "cpu"]) == 2
    assert "105×105" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--size", "big"])
    assert "expected a size such as 28, 105 or 84x84" in capsys.readouterr().err
