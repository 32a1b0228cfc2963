"""Inference: a trained learner + a labelled support set + query images -> per-query class probabilities.

One path for every caller: the app's Classify, the Compare view's "My queries" and `fewshot predict`.
Images are prepared with the learner's own InputSpec (as it was meta-trained); the learner adapts on
the support set; each query is classified on its own by default (`Classifier.classify_each`), so a
query's probabilities never depend on which other queries came with it.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from .algorithms.base import MetaLearner
from .errors import ConfigError, FewShotError, SourceError
from .sources.base import list_images
from .sources.memory import prepare_images


def probabilities(learner: MetaLearner, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor,
                  each_query: bool = True) -> torch.Tensor:
    """float64 [Q, N] class probabilities on the CPU for prepared (model-input) tensors; N is the
    number of support classes, labelled 0..N-1 in `support_y`. `each_query=False` classifies the
    queries as one batch (the papers' protocol; differs only for transductive BatchNorm)."""
    dev = learner.device
    clf = learner.adapt(support_x.to(dev), support_y.to(dev))
    if len(query_x) == 0:
        return torch.zeros(0, clf.n_way, dtype=torch.float64)
    with torch.no_grad():
        query_x = query_x.to(dev)
        log_p = clf.classify_each(query_x) if each_query else clf(query_x)
    probs = log_p.double().exp()
    return (probs / probs.sum(-1, keepdim=True)).cpu()  # float32 log-probabilities can be off by ~1e-7 from summing to 1


def as_learner(model: MetaLearner | str | Path, device: str = "auto") -> MetaLearner:
    """`model` itself when it is a learner, else the checkpoint at that path loaded onto `device`."""
    if isinstance(model, MetaLearner):
        return model
    from .checkpoint import load_checkpoint
    from .trainer import auto_device

    return load_checkpoint(model, auto_device(device))[0]


def predict(model: MetaLearner | str | Path, support: Sequence[Any], labels: Sequence[int], queries: Sequence[Any],
            device: str = "auto", each_query: bool = True) -> torch.Tensor:
    """Class probabilities [Q, N] (float64, CPU) of raw query images (paths, PNG bytes, PIL images,
    arrays: anything `prepare_images` reads), adapted on the labelled support images. `model` is a
    learner, or a checkpoint path loaded onto `device`."""
    learner = as_learner(model, device)
    spec, dev = learner.spec, learner.device
    support_x = spec.to_model(prepare_images(list(support), spec), dev)
    support_y = torch.tensor(list(labels), dtype=torch.long, device=dev)
    return probabilities(learner, support_x, support_y, spec.to_model(prepare_images(list(queries), spec), dev), each_query)


# -- predicting files: what `fewshot predict` runs --------------------------------------------------

@dataclass
class Predictions:
    """Each query file's class probabilities; `classes` are the support folder's class names."""
    classes: list[str]
    queries: list[str]
    probabilities: list[list[float]]

    @property
    def predicted(self) -> list[str]:
        return [self.classes[max(range(len(p)), key=p.__getitem__)] for p in self.probabilities]

    def table(self) -> str:
        """A plain-text table: query, predicted class, then every class's probability."""
        header = ["query", "predicted", *self.classes]
        rows = [[q, c, *(f"{p:.4f}" for p in ps)] for q, c, ps in zip(self.queries, self.predicted, self.probabilities)]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))).rstrip() for r in [header, *rows]]
        return "\n".join(lines) + "\n"

    def write_csv(self, path: str | Path) -> Path:
        path = Path(path)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["query", "predicted", *self.classes])
            for q, c, ps in zip(self.queries, self.predicted, self.probabilities):
                w.writerow([q, c, *(repr(p) for p in ps)])
        return path

    def to_dict(self) -> dict[str, Any]:
        return {"classes": self.classes, "predictions": [
            {"query": q, "predicted": c, "probabilities": dict(zip(self.classes, ps))}
            for q, c, ps in zip(self.queries, self.predicted, self.probabilities)]}

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path


def support_folder(root: str | Path) -> tuple[list[str], list[list[Path]]]:
    """(class names, image files per class) of `root/<class>/<images>`: the image-folder layout.
    Unlike a training source nothing is skipped: every class needs at least one image."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise SourceError(f"{root}: {'is a file' if root.exists() else 'no such folder'}; expected a support folder with one sub-folder of images per class")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        found = "images but no class sub-folders" if list_images(root) and not class_dirs else f"{len(class_dirs)} class sub-folder(s)"
        raise SourceError(f"{root}: {found}; a support set needs at least two classes, one sub-folder each (e.g. {root}/cat/1.png, {root}/dog/1.png)")
    files = [list_images(d) for d in class_dirs]
    empty = [str(d) for d, fs in zip(class_dirs, files) if not fs]
    if empty:
        raise SourceError(f"support class folder {', '.join(empty)} holds no images; every class needs at least one")
    return [d.name for d in class_dirs], files


def query_files(paths: Sequence[str | Path]) -> list[Path]:
    """Query images: each path a file, or a folder whose images (not its sub-folders) are queries."""
    out: list[Path] = []
    for p in map(lambda v: Path(v).expanduser(), paths):
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise SourceError(f"{p}: no images in this query folder")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise SourceError(f"{p}: no such query file or folder")
    return out


def predict_files(model: MetaLearner | str | Path, support_root: str | Path, queries: Sequence[str | Path],
                  device: str = "auto", each_query: bool = True) -> Predictions:
    """Predict query files with a support folder. Raises a FewShotError subclass for bad input."""
    classes, files = support_folder(support_root)
    query_paths = query_files(queries)
    support = [f for fs in files for f in fs]
    labels = [c for c, fs in enumerate(files) for _ in fs]
    try:
        probs = predict(model, support, labels, query_paths, device, each_query)
    except FewShotError:  # a bad image or checkpoint: already a clear message
        raise
    except ValueError as exc:  # the learner cannot adapt to this support set (e.g. more ways than it was meta-trained for)
        raise ConfigError(str(exc)) from exc
    return Predictions(classes, [str(q) for q in query_paths], probs.tolist())
