"""The Compare view's model on its own, without Qt: the setup's defaults, limits and validation,
the engine arguments it gives for both modes, showing a finished comparison's config, and the
comparison record a project keeps (and its file reads back, old files included)."""
from __future__ import annotations

import dataclasses

import pytest

import core
from app.model import Project, projectfile
from app.model.compare import COMPARISON_FORMAT, LIMITS, PROTOCOLS, CompareSetup, ComparisonRecord
from app.model.compare_measure import source_words, starter_data_note
from app.model.library import ModelEntry
from app.model.task import LIMITS as TASK_LIMITS
from app.model.task import TaskSettings


def test_the_setup_starts_at_cores_default_task_and_shares_the_studios_limits():
    setup = CompareSetup()
    assert (setup.n_way, setup.k_shot, setup.q_query) == (core.DEFAULT_TASK.n_way, core.DEFAULT_TASK.k_shot, core.DEFAULT_TASK.q_query)
    assert setup.mode == "train" and setup.algorithms == () and setup.source == {"kind": "builtin", "folder": ""}
    for name in ("n_way", "k_shot", "q_query", "seed"):
        assert LIMITS[name] == TASK_LIMITS[name]
    assert LIMITS["steps_each"] == TASK_LIMITS["steps"] and LIMITS["seconds_each"] == TASK_LIMITS["max_seconds"]
    task = TaskSettings()
    assert (task.n_way, task.k_shot, task.q_query) == (setup.n_way, setup.k_shot, setup.q_query)


def test_the_compare_model_reads_the_engines_protocols_and_format_marker():
    from core.studies import compare

    assert set(PROTOCOLS) == set(compare.PROTOCOLS) and COMPARISON_FORMAT == compare.FORMAT


@pytest.mark.parametrize("change, words", [({"n_way": 1}, "n_way=1 is out of range"), ({"eval_episodes": 0}, "eval_episodes=0"),
                                           ({"seed": 2.5}, "seed must be a whole number"), ({"mode": "race"}, "unknown mode"),
                                           ({"protocol": "mine"}, "unknown protocol"), ({"device": "tpu"}, "unknown device"),
                                           ({"source": {"kind": "web"}}, "unknown source kind"), ({"k_shot": True}, "whole number")])
def test_a_bad_value_is_refused_with_its_name(change, words):
    with pytest.raises(ValueError, match=words):
        CompareSetup().replace(**change)


def test_a_setup_is_a_value_no_caller_can_change_afterwards():
    hparams, source = {"protonet": {"hidden": 8}, "maml": {}}, {"kind": "folder", "folder": "/data"}
    setup = CompareSetup(algorithms=["protonet"], hparams=hparams, source=source)
    hparams["protonet"]["hidden"], source["folder"] = 99, "/elsewhere"
    assert setup.hparams == {"protonet": {"hidden": 8}}  # an algorithm with nothing changed keeps no entry
    assert setup.source["folder"] == "/data" and setup.algorithms == ("protonet",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.n_way = 3


def test_training_arguments_validate_in_the_engine_and_name_only_the_ticked_algorithms_hyperparameters():
    setup = CompareSetup(algorithms=("protonet", "matching"), hparams={"protonet": {"hidden": 8}, "maml": {"hidden": 4}},
                         n_way=3, steps_each=200, seconds_each=0, seed=4, val_episodes=3)
    args = setup.config_args()
    assert args["algorithms"] == ["protonet", "matching"] and args["hparams"] == {"protonet": {"hidden": 8}}
    assert args["seconds_each"] is None and args["val_every"] == 20 and args["val_episodes"] == 3 and args["seed"] == 4
    core.CompareConfig(**args).validate()  # the engine takes them as they are
    timed = setup.replace(steps_each=10_000_000, seconds_each=60).config_args()
    assert timed["seconds_each"] == 60.0 and timed["val_every"] == 50  # under a time budget: every 50 steps
    assert setup.replace(steps_each=20).val_every() == 5  # at least 5 steps apart


def test_starter_arguments_test_the_ticked_starter_models_and_train_nothing():
    setup = CompareSetup(mode="starter", algorithms=("protonet", "maml"), hparams={"protonet": {"hidden": 8}})
    args = setup.config_args({"protonet": "/starters/protonet.pt", "matching": "/starters/matching.pt"})
    assert args["algorithms"] == ["protonet"] and args["models"] == {"protonet": "/starters/protonet.pt"}  # maml has none
    assert args["hparams"] == {} and args["val_episodes"] == 0 and "steps_each" not in args
    config = core.CompareConfig(**args)
    config.validate()
    assert not config.trains


def test_a_finished_comparisons_config_shows_in_the_setup_clamped_into_the_forms_limits():
    config = core.CompareConfig(algorithms=["protonet", "relation"], hparams={"relation": {"hidden": 16}}, n_way=3, k_shot=2,
                                q_query=4, protocol="paper", steps_each=20_000_000, seconds_each=30.0, seed=7, eval_episodes=50,
                                device="cuda:1")
    before = CompareSetup(val_episodes=3, source={"kind": "builtin", "folder": "", "classes": 30})
    shown = before.with_config(config)
    assert shown.algorithms == ("protonet", "relation") and shown.hparams == {"relation": {"hidden": 16}}
    assert (shown.n_way, shown.k_shot, shown.q_query, shown.seed, shown.eval_episodes) == (3, 2, 4, 7, 50)
    assert shown.steps_each == LIMITS["steps_each"][1] and shown.seconds_each == 30 and shown.protocol == "paper"
    assert shown.device == "auto"  # a device the form does not offer
    assert shown.val_episodes == 3 and shown.source == before.source  # what a config does not hold stays
    assert before.with_config(config, {"kind": "omniglot", "folder": "/o"}).source == {"kind": "omniglot", "folder": "/o"}
    starters = core.CompareConfig(algorithms=["protonet"], models={"protonet": "/p.pt"}, seconds_each=None)
    assert before.with_config(starters).mode == "starter" and before.with_config(starters).seconds_each == 0


def _record_data() -> dict:
    config = core.CompareConfig(algorithms=["protonet"], n_way=3)
    results = [{"algorithm": "protonet", "title": "Prototypical Networks", "family": "metric", "status": "done", "per_episode": [0.5, 1.0]}]
    return core.Comparison.from_dict({"format": COMPARISON_FORMAT, "config": dataclasses.asdict(config), "results": results}).to_dict()


def test_the_record_writes_what_older_apps_wrote_and_reads_it_back():
    data = _record_data()
    record = ComparisonRecord(data, {"kind": "builtin", "folder": ""}, {"protonet": b"weights"})
    written = record.to_dict()
    assert written == {**data, "app": {"source": {"kind": "builtin", "folder": ""}}}  # comparison.json, as before
    again = ComparisonRecord.from_dict(written, {"protonet": b"weights"})
    assert again == record and core.Comparison.from_dict(again.data).results["protonet"].mean == pytest.approx(0.75)
    older = ComparisonRecord.from_dict(data)  # a file that recorded no source
    assert older.source is None and older.models == {} and older.to_dict() == data
    for bad in ({"config": {}}, ["not", "a", "dict"], {"format": "something-else"}):
        with pytest.raises(ValueError, match="not a comparison"):
            ComparisonRecord.from_dict(bad)


def test_the_project_file_keeps_the_record_and_its_models(tmp_path):
    project = Project()
    record = ComparisonRecord(_record_data(), {"kind": "builtin", "folder": ""}, {"protonet": b"checkpoint bytes"})
    project.set_comparison(record)
    assert project.dirty  # a run's record is saved like an edit
    path = projectfile.save_project(project, tmp_path / "p.fsproj")
    loaded = projectfile.load_project(path, check_model=lambda data, member, sha256: None).project
    assert loaded.comparison == record
    refused = projectfile.load_project(path, check_model=_refuse).project  # a bad model is left out, the comparison stays
    assert refused.comparison.models == {} and refused.comparison.to_dict() == record.to_dict()


def _refuse(data, member, sha256):
    from app.model.library import ModelFileError

    raise ModelFileError(f"{member}: refused")


def test_the_starter_note_says_whether_the_test_data_is_what_the_models_learned_from():
    entry = ModelEntry(id="starter:protonet", name="ProtoNet", algorithm="protonet", title="Prototypical Networks",
                       source="Omniglot (shipped with the app)", n_way=5, k_shot=1, val_accuracy=0.98, measure="5-way 1-shot · Omniglot test",
                       starter=True)
    builtin = starter_data_note({"kind": "builtin", "folder": ""}, entry)
    assert builtin.startswith("⚠ Testing on the built-in characters: not the Omniglot handwriting") and "98.0%" in builtin
    omniglot = starter_data_note({"kind": "omniglot", "folder": "/data/omniglot"}, entry)
    assert omniglot.startswith("Testing on Omniglot's test characters (folder “omniglot”): the kind of data")
    assert source_words({"kind": "folder", "folder": "/x/glyphs"}) == "your image folder “glyphs”"
    assert "Omniglot handwriting" in starter_data_note({"kind": "builtin"}, None)
