"""What the Compare view's accuracy figures measured, in a few words ("5-way 1-shot · built-in
characters · 600 episodes"), read from a comparison's own record (its config and results), so an
opened or exported comparison says it as the run that made it did. The words are the model
library's (`library.measure_words`): a starter model tested here on the test its own figure came
from reads the same measure as in the Models tab and the status bar."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

from .library import ModelEntry, accuracy_text, measure_words

# The source's description parts that say how, not which data ("Omniglot test ×4 rotations").
_HOW = re.compile(r" ×\d+ rotations| \(seed \d+\)| \(split \w+\)| \(the training classes\)|: trained and tested on the same classes.*")


def test_data(source: str) -> str:
    """Which data the test episodes came from, from a comparison's `config.source` (the app writes
    "Built-in characters: test built-in characters (seed 0)", the command line "… → test on …")."""
    for marker in ("; test ", ": test ", " → test on ", " → test "):
        if marker in source:
            source = source.rsplit(marker, 1)[1]
            break
    return _HOW.sub("", source).strip() or "test data not recorded"


def test_measure(config) -> str:
    """The measure of every test accuracy of a comparison (a `core.CompareConfig`)."""
    return measure_words(config.n_way, config.k_shot, test_data(config.source), config.eval_episodes)


def learned_from(entry: ModelEntry) -> str:
    """The data a starter model learned from, in a word ("Omniglot (shipped with the app)" → "Omniglot")."""
    return entry.source.split(" (")[0]


def unlike_learned(config, entries: dict[str, ModelEntry]) -> str:
    """The data the compared starter models learned from when this comparison's test data is of
    another kind ("" when it is the same kind, or no starter model was compared)."""
    learned = {learned_from(e) for e in entries.values() if e.source}
    data = test_data(config.source)
    return ", ".join(sorted(lo for lo in learned if not data.lower().startswith(lo.lower())))


def source_words(source: Mapping[str, Any]) -> str:
    """A Compare source setting as a sentence names it: "the built-in characters", "your image
    folder “glyphs”"."""
    kind, folder = source.get("kind", "builtin"), Path(source.get("folder") or "").name
    return {"builtin": "the built-in characters", "omniglot": f"Omniglot's test characters (folder “{folder}”)"}.get(
        kind, f"your image folder “{folder}”")


def starter_data_note(source: Mapping[str, Any], example: ModelEntry | None) -> str:
    """Starter mode's plain words on the test data: whether it is the kind the starter models
    learned from, quoting `example`'s own figure (a starter model's library entry, when known)."""
    learned = learned_from(example) if example is not None else "Omniglot"
    own = f" (e.g. {example.title or example.algorithm}: {accuracy_text(example)})" if example is not None else ""
    if source.get("kind") == "omniglot":
        return (f"Testing on {source_words(source)}: the kind of data the starter models learned from, "
                f"characters none of them trained on — the test of their own figures{own}.")
    return (f"⚠ Testing on {source_words(source)}: not the {learned} handwriting the starter models learned "
            f"from, so they score lower here than their own figures{own}.")


def _grouped(shapes: dict[str, tuple[int, int, int]]) -> dict[str, list[str]]:
    """{measure: algorithms} of {algorithm: (ways, shots, episodes)} (0 = not known; an unknown
    shape is left out)."""
    groups: dict[str, list[str]] = {}
    for name, (n_way, k_shot, episodes) in shapes.items():
        if n_way and k_shot:
            groups.setdefault(measure_words(n_way, k_shot, "", episodes), []).append(name)
    return groups


def curve_measures(comp) -> tuple[str, str, str]:
    """(training, validation, details): what a comparison's curves measured, under the plots'
    titles — the training episodes' ways and shots, the validation's ways, shots and episodes —
    when every algorithm with curves shares it, else "each model's own", and `details` says which
    measured what ("" when the titles say it all). An algorithm meta-trained here has them from the comparison's setup until its
    result says them."""
    c = comp.config
    training: dict[str, tuple[int, int, int]] = {}
    validation: dict[str, tuple[int, int, int]] = {}
    for name, r in comp.results.items():
        here = name not in c.models
        if here or r.curves.get("loss"):
            shape = r.episode_shape or ({"train_way": c.n_way, "train_shot": c.k_shot} if c.protocol == "same" else {})
            training[name] = (int(shape.get("train_way") or 0), int(shape.get("train_shot") or 0), 0)
        if (here and c.val_episodes) or r.curves.get("val_accuracy"):
            v = r.validation or {"n_way": c.n_way, "k_shot": c.k_shot, "episodes": c.val_episodes}
            validation[name] = (int(v.get("n_way", 0)), int(v.get("k_shot", 0)), int(v.get("episodes", 0)))
    out, details = [], []
    for what, groups, one in (("Training episodes", _grouped(training), "on {} training episodes"), ("Validation", _grouped(validation), "{}")):
        out.append(one.format(next(iter(groups))) if len(groups) == 1 else "each model's own" if groups else "")
        if len(groups) > 1:
            details.append(f"{what}: " + "; ".join(f"{words}: {', '.join(names)}" for words, names in groups.items()))
    return out[0], out[1], "\n".join(details)
