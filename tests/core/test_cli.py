import subprocess
import sys

import core
from core.tools.cli import main


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
    # A bad hyperparameter for training is one clear line naming the algorithm, not a traceback.
    assert main(["train", "--source", "builtin", "--steps", "1", "--hp", "hidden=-3", "--val-episodes", "0", "--device", "cpu",
                 "--out", str(tmp_path / "m.pt")]) == 2
    assert "Prototypical Networks: hidden=-3 is out of range" in capsys.readouterr().err


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
    assert "protonet" in res.stdout and "× the bare ProtoNet step" in res.stdout and "path: one episode" in res.stdout
    assert "at its training shape (60-way 1-shot 5-query, meta-batch 1)" in res.stdout  # ProtoNet's paper shape


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


# -- fewshot predict ------------------------------------------------------------------------------

def _predict_setup(tmp_path):
    """A small ProtoNet checkpoint meta-trained for 40 steps (a fraction of a second) on the built-in source's training split,
    a support folder of three unseen test-split characters (two drawings each) written as PNGs,
    and one query PNG per class: a third drawing, named after its class."""
    import torch
    from PIL import Image

    cfg = core.TrainConfig(algorithm="protonet", hparams={"hidden": 16, "train_way": 4, "train_query": 2}, n_way=3, k_shot=1, q_query=2,
                           steps=40, val_episodes=0, device="cpu", seed=0)
    trainer = core.Trainer(cfg, core.builtin_split("train", 12, n_instances=4))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic, and fast on a busy machine
    try:
        for _ in trainer.run():
            pass
    finally:
        torch.set_num_threads(threads)
    ckpt = core.save_checkpoint(tmp_path / "tiny.pt", trainer.learner)
    glyphs = core.builtin_split("test", 3, n_instances=3)
    for c, name in enumerate(["alpha", "beta", "gamma"]):
        for i in range(3):
            ink = glyphs.images[int(glyphs.starts[c]) + i, 0].numpy()
            folder = tmp_path / "support" / name if i < 2 else tmp_path / "queries"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(255 - ink).save(folder / f"{name if i == 2 else i}.png")  # dark ink on white, as people draw
    return ckpt, tmp_path / "support", tmp_path / "queries"


def test_predict_prints_each_querys_class_and_writes_csv_and_json(tmp_path, capsys):
    import csv
    import json

    ckpt, support, queries = _predict_setup(tmp_path)
    files = sorted(queries.iterdir())
    expected = core.predict_files(ckpt, support, files, device="cpu")
    labels = [c for c in ("alpha", "beta", "gamma") for _ in range(2)]
    direct = core.predict(core.load_checkpoint(ckpt)[0], sorted(support.glob("*/*.png")), [("alpha", "beta", "gamma").index(c) for c in labels], files)
    assert direct.tolist() == expected.probabilities  # the CLI's numbers are core.predict's
    rc = main(["predict", str(ckpt), "--support", str(support), "--query", str(queries), "--device", "cpu",
               "--csv", str(tmp_path / "p.csv"), "--json", str(tmp_path / "p.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["query", "predicted", "alpha", "beta", "gamma"]
    for line, f, predicted, probs in zip(lines[1:4], files, expected.predicted, expected.probabilities):
        assert line.split() == [str(f), predicted, *(f"{p:.4f}" for p in probs)]
    # the query drawn from a class is predicted as that class (two drawings of it in the support set)
    assert expected.predicted == ["alpha", "beta", "gamma"], out
    rows = list(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8")))
    assert [r["predicted"] for r in rows] == expected.predicted and float(rows[1]["beta"]) == expected.probabilities[1][1]
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["classes"] == ["alpha", "beta", "gamma"] and data["predictions"][2]["probabilities"]["gamma"] == expected.probabilities[2][2]
    # a single query file works too
    assert main(["predict", str(ckpt), "--support", str(support), "--query", str(files[1]), "--device", "cpu"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == [str(files[1]), expected.predicted[1]]


def test_predict_bad_input_is_one_clear_line_and_exit_2(tmp_path, capsys):
    import shutil

    ckpt, support, queries = _predict_setup(tmp_path)

    def error(*args) -> str:
        rc = main(["predict", *map(str, args), "--device", "cpu"])
        err = capsys.readouterr().err
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        return err

    assert "no such checkpoint file" in error(tmp_path / "missing.pt", "--support", support, "--query", queries)
    data = ckpt.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    assert "truncated or damaged checkpoint" in error(tmp_path / "cut.pt", "--support", support, "--query", queries)
    assert "no such query file or folder" in error(ckpt, "--support", support, "--query", tmp_path / "nope.png")
    assert "no such folder" in error(ckpt, "--support", tmp_path / "nothing", "--query", queries)
    (queries / "broken.png").write_bytes(b"not a png at all")
    assert "broken.png: not a readable image" in error(ckpt, "--support", support, "--query", queries)
    (queries / "broken.png").unlink()
    shutil.copy(queries / "alpha.png", support / "alpha" / "ok.png")
    (support / "beta" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert "2.png: not a readable image" in error(ckpt, "--support", support, "--query", queries)
    (support / "beta" / "2.png").unlink()
    (support / "delta").mkdir()
    assert "delta holds no images" in error(ckpt, "--support", support, "--query", queries)
    shutil.rmtree(support / "delta")
    assert "needs at least two" in error(ckpt, "--support", support / "alpha", "--query", queries)
    assert "cannot write" in error(ckpt, "--support", support, "--query", queries, "--csv", tmp_path / "no" / "dir" / "p.csv")


def test_explain_prints_the_prediction_and_parts_and_writes_json(tmp_path, capsys):
    from core.explanation import read_json

    ckpt, support, queries = _predict_setup(tmp_path)
    files = sorted(queries.iterdir())
    expected = core.predict_files(ckpt, support, files, device="cpu")
    rc = main(["explain", str(ckpt), "--support", str(support), "--query", str(queries), "--device", "cpu", "--json", str(tmp_path / "e.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    for f, predicted in zip(files, expected.predicted):
        assert f"classified this query — {f}\npredicted {predicted} (" in out
    saved = read_json(tmp_path / "e.json")
    assert [e.query for e in saved] == [str(f) for f in files]
    for e, probs in zip(saved, expected.probabilities):
        assert e.classes == ["alpha", "beta", "gamma"] and e.probabilities == probs  # the same numbers as `predict`
        assert e.parts, "every algorithm shows at least one picture"
        for part in e.parts:
            assert f"## {part.title}" in out
    # bad input: one clear line, exit 2
    assert main(["explain", str(ckpt), "--support", str(tmp_path / "none"), "--query", str(queries), "--device", "cpu"]) == 2
    assert "no such folder" in capsys.readouterr().err


def _sweep_setup(tmp_path):
    """A 6-class image folder and two untrained checkpoints: a ProtoNet, and a MAML with a 3-way head."""
    import torch

    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=6, per_class=5)
    torch.manual_seed(0)
    proto = core.save_checkpoint(tmp_path / "proto.pt", core.create("protonet", {"hidden": 8}))
    maml = core.save_checkpoint(tmp_path / "maml.pt", core.create("maml", {"hidden": 8, "inner_steps_test": 1}, n_way=3))
    return root, proto, maml


def test_sweep_prints_a_markdown_table_and_writes_csv_and_json(tmp_path, capsys):
    import csv

    root, proto, maml = _sweep_setup(tmp_path)
    rc = main(["sweep", str(proto), str(maml), "--source", "folder", "--data", str(root), "--shots", "1,2", "--ways", "2,4",
               "--query", "2", "--episodes", "3", "--device", "cpu", "--csv", str(tmp_path / "s.csv"), "--json", str(tmp_path / "s.json")])
    captured = capsys.readouterr()
    out = captured.out
    assert rc == 0, out + captured.err
    assert "episode 3/3" in captured.err  # the progress bar
    assert "| model | ways | 1-shot | 2-shot |" in out
    result = core.SweepResult.load_json(tmp_path / "s.json")
    assert result.models == ["proto", "maml"] and result.status == "done"
    # each cell is evaluate()'s number for that checkpoint, on the same test episodes
    learner, _ = core.load_checkpoint(proto)
    src = core.open_source("folder", "test", str(root), spec=learner.spec)
    ev = core.evaluate(learner, src, 4, 2, 2, 3)
    assert result.point("proto", 4, 2).per_episode == ev.per_episode
    assert f"| Prototypical Networks (`proto`) | 4 | {core.fmt_accuracy(result.point('proto', 4, 1).mean, result.point('proto', 4, 1).ci95)} | " \
           f"{core.fmt_accuracy(ev.mean, ev.ci95)} |" in out
    # the 3-way MAML cannot do 4-way points: marked, with its reason
    assert "| MAML (`maml`) | 4 | — (unsupported) | — (unsupported) |" in out
    assert "meta-trained for 3-way tasks" in out
    with open(tmp_path / "s.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and {r["status"] for r in rows} == {"done", "unsupported"}


def test_sweep_and_episodes_bad_input_is_one_clear_line_exit_2(tmp_path, capsys):
    import pytest

    root, proto, maml = _sweep_setup(tmp_path)
    folder = ["--source", "folder", "--data", str(root)]

    def error(*argv) -> str:
        assert main([str(a) for a in argv]) == 2
        return capsys.readouterr().err

    assert "none.pt: no such checkpoint file" in error("sweep", tmp_path / "none.pt", *folder, "--device", "cpu")
    assert "7-way episodes need 7 classes, the source has 6" in error("sweep", proto, *folder, "--ways", "2,7", "--device", "cpu")
    assert "5-shot episodes need 6 images per class" in error("sweep", proto, *folder, "--shots", "5", "--device", "cpu")
    assert "meta-trained for 3-way tasks" in error("sweep", maml, *folder, "--ways", "4", "--device", "cpu")
    assert "episodes per point must be ≥ 1" in error("sweep", proto, *folder, "--episodes", "0", "--device", "cpu")
    assert "cannot write" in error("sweep", proto, *folder, "--ways", "2", "--shots", "1", "--episodes", "1", "--device", "cpu",
                                   "--csv", tmp_path / "proto.pt" / "s.csv")
    with pytest.raises(SystemExit) as exc:  # argparse's own one-line error
        main(["sweep", str(proto), "--shots", "1,two"])
    assert exc.value.code == 2 and "expected comma-separated whole numbers" in capsys.readouterr().err
    png = tmp_path / "g.png"
    assert "need --way ≥ 2" in error("episodes", *folder, "--way", "1", "--out", png)
    assert "--count must be 1 to 100" in error("episodes", *folder, "--count", "0", "--out", png)
    assert "--index counts from 0" in error("episodes", *folder, "--index", "-1", "--out", png)
    assert "need 9 classes" in error("episodes", *folder, "--way", "9", "--out", png)
    assert "cannot write" in error("episodes", *folder, "--way", "2", "--query", "1", "--out", tmp_path / "proto.pt" / "g.png")
    assert not png.exists()


def test_episodes_draws_the_streams_episodes_to_a_png(tmp_path, capsys):
    from PIL import Image

    from core.episodes import TEST_SEED, VAL_SEED
    from tests.core.test_episode_grid import assert_drawn
    from tests.core.test_sources import make_folder

    root = make_folder(tmp_path / "data", classes=5, per_class=4)
    png = tmp_path / "g.png"
    rc = main(["episodes", "--source", "folder", "--data", str(root), "--seed", "3", "--index", "2", "--count", "2", "--way", "3",
               "--shot", "1", "--query", "2", "--scale", "1", "--columns", "2", "--out", str(png)])
    assert rc == 0 and f"episodes 2–3 of seed 3 (3-way 1-shot, 2 queries per class)" in capsys.readouterr().out
    src = core.open_source("folder", "test", str(root))
    sampler = core.EpisodeSampler(src, 3, 1, 2, seed=3)
    for i in (2, 3):
        assert_drawn(Image.open(png), core.episode_images(sampler, i))
    # without --seed: the fixed test or validation episodes for those splits, the training seed 0 for train
    for split, seed in (("test", TEST_SEED), ("val", VAL_SEED), ("train", 0)):
        assert main(["episodes", "--source", "folder", "--data", str(root), "--split", split, "--way", "2", "--query", "1", "--out", str(png)]) == 0
        assert f"of seed {seed} " in capsys.readouterr().out
