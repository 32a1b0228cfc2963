"""The engine side of the Episodes view (no widgets; runs on the training thread or the job thread).

- `LiveEpisodes` (training thread): after a training step, at most once every `every_s` seconds,
  the step's last training episode as plain data with the live model's predictions on its queries.
- `episode_job` (job thread): episode i of a stream — the training stream of the project's
  settings, the fixed validation episodes or the fixed test episodes — with the predictions of
  the model in use, drawn into a QImage.

`core` (and so torch) is imported inside the functions: the window shows before torch has loaded.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from . import sources
from .episode_picture import draw_episode, episode_data, predict_episode
from .jobs import cached_learner

STREAMS = {"train": "Training stream", "val": "Validation episodes", "test": "Test episodes"}
LIVE_EVERY_S = 1.0  # the live episode's refresh: the GUI redraws it at this rate at most
# ... and the training thread spends at most this share of its time on it: predicting a 60-way
# training episode's 300 queries costs about half a training step (measured: 0.45 s against
# ~1 s a step, ProtoNet's paper shape on one CPU thread), so large episodes are drawn less often.
LIVE_SHARE = 0.02


class LiveEpisodes:
    """(training thread) The episode a training step just used, now and then (every `every_s`
    seconds at most, and at most LIVE_SHARE of the training thread's time), with the live model's
    predictions. Episode i of the stream is `EpisodeSampler(source, shape, seed).episode(i)`,
    the Trainer's own sampler (a pure function of seed and i), so it is drawn again here rather
    than taken from inside the step; the step's meta-batch used episodes
    `episodes - meta_batch … episodes - 1`, and the last of them is shown."""

    def __init__(self, trainer: Any, every_s: float = LIVE_EVERY_S):
        import core

        stream = core.EpisodeStream.of_trainer(trainer)
        self.trainer, self.every_s = trainer, every_s
        self.meta_batch = stream.meta_batch
        self.sampler = stream.sampler(trainer.train_source, device="cpu")
        self.next_at = -float("inf")  # when the next episode may be drawn (time.monotonic)
        self.shown = -1  # the index of the last one drawn

    def after_step(self, progress: Any) -> dict[str, Any] | None:
        """The payload for the view, or None when the last one is younger than `every_s`. The
        run's final report brings its last step's episode, unless that one is on screen."""
        start = time.monotonic()
        index = progress.episodes - 1
        if progress.status == "running":
            if start < self.next_at:
                return None
        elif index < 0 or index == self.shown:
            return None
        self.shown = index
        data = episode_data(self.sampler, index)
        try:
            guesses: list[int] | str = predict_episode(self.trainer.learner, self.sampler, index)
        except (ValueError, RuntimeError) as exc:  # a picture must never end the run
            guesses = str(exc)
        data.update(stream="train", step=progress.step, meta_batch=self.meta_batch, predictions={"live": guesses},
                    model=f"the live model after step {progress.step}")
        data["image"] = draw_episode(data, data["predictions"])
        cost = time.monotonic() - start
        self.next_at = start + max(self.every_s, cost / LIVE_SHARE if self.every_s else 0.0)
        return data


# -- stepping through a stream (job thread) ------------------------------------------------------
_sources: dict[str, Any] = {}  # repr(source setting) -> (train, val, test); the job thread's only


def _quiet(stage: str) -> None:
    """A job's progress report that nobody reads."""


def _stream_sources(source: dict, n_way: int, report: Callable[[str], None] = _quiet):
    key = repr(sorted(source.items()))
    if key not in _sources:
        # The slow part the first time (drawing thousands of built-in characters, or decoding a
        # folder of images takes seconds): said, so a person sees what is being waited for.
        report(f"preparing the source, {sources.describe_source(source)} (once per session)")
        _sources.clear()  # one source setting at a time: they can be large
        _sources[key] = sources.compare_sources(source, n_way)
    return _sources[key]


def training_stream(algorithm: str, hparams: dict, task: dict, num_classes: int):
    """The training stream (`core.EpisodeStream`) a run of these settings meta-trains on: the
    engine's own rule for its episodes' shape (`core.training_episode_shape`) and its seed, read
    for the task settings the Studio trains with."""
    import core

    config = core.TrainConfig(algorithm=algorithm, hparams=hparams, n_way=int(task["n_way"]), k_shot=int(task["k_shot"]),
                              q_query=int(task["q_query"]), seed=int(task["seed"]))
    parsed = core.hparams_from_dict(core.get_algorithm(algorithm).HParams, hparams)
    return core.EpisodeStream.training(config, core.training_episode_shape(config, algorithm, parsed, num_classes))


def stream_sampler(request: dict[str, Any], report: Callable[[str], None] = _quiet):
    """The sampler of the requested stream: `request` holds "stream", "source" (a Source dict),
    "task" (TaskSettings.to_dict()), "algorithm" and "hparams"; for the training stream, the last
    run's stream ("live": its seed, shape, meta_batch and source, from a live episode) wins."""
    import core

    task, kind, live = request["task"], request["stream"], request.get("live")
    if kind == "train" and live:
        train = _stream_sources(live["source"], int(task["n_way"]), report)[0]
        stream = core.EpisodeStream.from_dict({**live, "kind": "train"})
        return stream.sampler(train, device="cpu"), stream.meta_batch
    train, val, test = _stream_sources(request["source"], int(task["n_way"]), report)
    if kind == "val" and val is None:
        raise core.SourceError("this source has no validation classes")
    if kind == "train":
        stream = training_stream(request["algorithm"], request.get("hparams") or {}, task, train.num_classes)
        return stream.sampler(train, device="cpu"), stream.meta_batch
    n_way, k_shot, q_query = int(task["n_way"]), int(task["k_shot"]), int(task["q_query"])
    if kind == "val":
        return core.EpisodeStream.validation(core.TrainConfig(n_way=n_way, k_shot=k_shot, q_query=q_query)).sampler(val, device="cpu"), 1
    return core.EpisodeStream.test(n_way, k_shot, q_query).sampler(test, device="cpu"), 1


def episode_job(request: dict[str, Any], report: Callable[[str], None] = _quiet) -> dict[str, Any]:
    """(job thread) Episode request["index"] of the requested stream, with the predictions of the
    model at request["model_path"] (none when it is None, or its message when it cannot classify
    these ways), drawn. `report(stage)` is told what it is doing, in a few words."""
    sampler, meta_batch = stream_sampler(request, report)
    index = int(request["index"])
    report("taking its images")
    data = episode_data(sampler, index)
    data.update(stream=request["stream"], meta_batch=meta_batch, step=index // meta_batch + 1, predictions={}, model="")
    path = request.get("model_path")
    if path:
        data["model"] = request.get("model_name") or "the model in use"
        report(f"{data['model']} classifies its queries")
        try:
            data["predictions"] = {"model": predict_episode(cached_learner(path, request["task"].get("device", "auto")), sampler, index)}
        except (ValueError, RuntimeError) as exc:  # e.g. more ways than the model's head has
            data["predictions"] = {"model": str(exc)}
    report("drawing it")
    data["image"] = draw_episode(data, data["predictions"])
    return data


def compare_episode_job(holder: dict[str, Any], source: dict, index: int, colors: dict[str, Any]) -> dict[str, Any]:
    """(job thread) Test episode `index` of the comparison in `holder` ({"comparison", "models"}),
    on its test source (`source`: the Compare view's source setting), with every compared model's
    predictions, scored as the comparison scored its test episodes (so each model's share of right
    queries equals its recorded accuracy on that episode). A model that cannot classify the
    episode gets its message instead."""
    import core

    comp = holder["comparison"]
    if not comp.learners and holder.get("models"):
        comp.load_models(holder["models"], core.auto_device(comp.config.device))
    c = comp.config
    test = _stream_sources(source, int(c.n_way))[2]
    sampler = core.EpisodeStream.test(c.n_way, c.k_shot, c.q_query, seed=c.test_seed).sampler(test, device="cpu")
    data = episode_data(sampler, index)
    predictions: dict[str, Any] = {}
    for name, learner in comp.learners.items():
        try:
            predictions[name] = predict_episode(learner, sampler, index)
        except (ValueError, RuntimeError) as exc:
            predictions[name] = str(exc)
    data.update(stream="test", meta_batch=1, step=0, predictions=predictions, model="")
    data["image"] = draw_episode(data, predictions, colors)
    return data
