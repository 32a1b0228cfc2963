"""The explanation protocol's data: checked shapes, JSON round trip, plain-text numbers, PCA."""
import json

import pytest
import torch

import core
from core.explanation import PART_KINDS, Bars, Curves, Explanation, Images, Matrix, Points, SupportWeights, Text, read_json, write_json


def _every_kind():
    return [
        Points("map", "what it means", x=torch.tensor([0.0, 1.0, 2.0]), y=[1, 2, 3], labels=["a", "b", "q"],
               kind_of=["support", "prototype", "query"], group=[0, 0, -1], links=[(2, 1, 4.5)], link_label="d²", axes=("PC 1", "PC 2")),
        Matrix("heat", values=[[0.1, 0.9], [0.5, 0.5]], rows=["r1", "r2"], columns=["c1", "c2"], value_label="weight", vmin=0, vmax=1),
        Curves("steps", x=[0, 1, 2], series={"loss": [1.0, 0.5, 0.2]}, x_label="step", y_label="loss"),
        Bars("scores", categories=["A", "B"], series={"learned": [0.9, 0.1], "cosine": [0.7, 0.6]}, value_label="score"),
        Images("maps", images=[[[0.0, 1.0], [2.0, 3.0]]], labels=["|f(a) − f(b)|"]),
        SupportWeights("attention", values=[0.25, 0.75], value_label="a(x̂, xᵢ)"),
        Text("note", body="plain words"),
    ]


def test_every_part_kind_survives_json_and_prints_its_numbers(tmp_path):
    parts = _every_kind()
    assert {p.kind for p in parts} == set(PART_KINDS)
    exp = Explanation("protonet", "How it decided", "summary", ["A", "B"], torch.tensor([0.25, 0.75], dtype=torch.float64),
                      [0, 1], "q.png", parts)
    assert exp.predicted == 1
    path = write_json([exp, exp], tmp_path / "e.json")
    json.loads(path.read_text())  # plain JSON
    back = read_json(path)
    assert back == [exp, exp]
    text = exp.text()
    assert "predicted B (A 0.250, B 0.750)" in text
    assert "q → b: d² 4.5" in text and "support 1: a(x̂, xᵢ) 0.75" in text and "plain words" in text
    for p in parts:
        assert f"## {p.title}" in text


@pytest.mark.parametrize("bad", [
    lambda: Points("p", x=[0, 1], y=[0]),
    lambda: Points("p", x=[0], y=[0], links=[(0, 3, 1.0)]),
    lambda: Matrix("m", values=[[1, 2]], rows=["a"], columns=["x"]),
    lambda: Curves("c", x=[0, 1], series={"s": [1]}),
    lambda: Bars("b", categories=["a"], series={"s": [1, 2]}),
    lambda: Images("i", images=[[1, 2]]),
    lambda: Explanation("a", "t", "", ["A", "B"], [1.0]),
    lambda: Explanation("a", "t", "", ["A"], [float("nan")]),
])
def test_a_malformed_part_is_refused_when_made(bad):
    with pytest.raises(ValueError):
        bad()


def test_an_unknown_part_kind_in_json_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown explanation part 'hologram'"):
        Explanation.from_dict({"algorithm": "a", "title": "t", "classes": ["A"], "probabilities": [1.0], "parts": [{"kind": "hologram", "title": "x"}]})


def test_pca_2d_keeps_distances_of_planar_points_and_is_deterministic():
    torch.manual_seed(0)
    plane = torch.randn(8, 2, dtype=torch.float64)
    rotation = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))[0]
    points = torch.cat([plane, torch.zeros(8, 3, dtype=torch.float64)], 1) @ rotation.T  # 2-D data embedded in 5-D
    coords, share = core.pca_2d(points)
    assert torch.allclose(torch.cdist(coords, coords), torch.cdist(points, points), atol=1e-9)
    assert abs(sum(share) - 1.0) < 1e-9 and share[0] >= share[1]
    assert torch.equal(core.pca_2d(points)[0], coords)
    assert core.pca_2d(points[:1])[0].tolist() == [[0.0, 0.0]]
