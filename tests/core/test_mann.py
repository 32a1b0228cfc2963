"""MANN (Santoro et al. 2016): the LRUA memory's equations, the sequence protocol, and learning."""
import pytest
import torch

import core
from core.algorithms.mann import build_sequences, instance_accuracy, presentation_index, previous_labels
from core.algorithms.memory import MemoryState, cosine_read_weights, least_used_weights, lrua_step

BIG = 1e4  # a gate logit that saturates σ(α) to 0 or 1 in float64


def _state(slots=8, width=4, heads=1, seed=0, usage=None, prev_read=None):
    g = torch.Generator().manual_seed(seed)
    memory = torch.randn(1, slots, width, generator=g, dtype=torch.float64)
    usage = torch.rand(1, slots, generator=g, dtype=torch.float64) + 0.5 if usage is None else usage
    prev_read = torch.softmax(torch.randn(1, heads, slots, generator=g, dtype=torch.float64), -1) if prev_read is None else prev_read
    return MemoryState(memory, prev_read, usage, least_used_weights(usage, heads))


def _tiny(**hp):
    torch.manual_seed(0)
    defaults = {"controller": 16, "memory_slots": 16, "memory_width": 8, "read_heads": 2, "image_size": 8}
    return core.create("mann", {**defaults, **hp}, core.InputSpec(), n_way=5).double()


# -- the memory ---------------------------------------------------------------------------------

def test_read_weights_are_a_softmax_over_cosine_similarities_and_sum_to_one():
    g = torch.Generator().manual_seed(0)
    keys, memory = torch.randn(3, 4, 6, generator=g, dtype=torch.float64), torch.randn(3, 10, 6, generator=g, dtype=torch.float64)
    memory[:, 7] = 0.0  # an empty row: similarity 0, no NaN
    w = cosine_read_weights(keys, memory)
    assert torch.allclose(w.sum(-1), torch.ones(3, 4, dtype=torch.float64))
    cos = torch.nn.functional.cosine_similarity(keys.unsqueeze(2), memory.unsqueeze(1), dim=-1)
    assert torch.allclose(w, torch.softmax(cos, -1))
    # scaling a key or a row does not change the weights (content addressing by direction)
    assert torch.allclose(cosine_read_weights(5 * keys, memory * 3), w)
    # and inside an LRUA step: the new read weights of every head sum to 1
    _, new, _ = lrua_step(_state(heads=3), keys[:1, :3, :4], torch.zeros(1, 3, dtype=torch.float64), 0.95)
    assert torch.allclose(new.read_weights.sum(-1), torch.ones(1, 3, dtype=torch.float64))


def test_least_used_weights_mark_the_n_smallest_usages():
    usage = torch.tensor([[0.9, 0.1, 0.5, 0.05, 2.0, 0.3]])
    assert least_used_weights(usage, 1).tolist() == [[0, 0, 0, 1, 0, 0]]
    assert least_used_weights(usage, 3).tolist() == [[0, 1, 0, 1, 0, 1]]


def test_lrua_closed_gate_writes_to_the_least_used_slot_which_was_zeroed():
    usage = torch.tensor([[0.9, 0.7, 0.05, 1.2, 0.6, 0.8, 1.1, 0.95]], dtype=torch.float64)  # slot 2 least used
    prev_read = torch.zeros(1, 1, 8, dtype=torch.float64)
    prev_read[0, 0, 5] = 1.0  # last step read slot 5
    st = _state(usage=usage, prev_read=prev_read)
    key = torch.tensor([[[0.3, -0.2, 0.5, 0.1]]], dtype=torch.float64)
    _, new, ww = lrua_step(st, key, torch.full((1, 1), -BIG, dtype=torch.float64), 0.95)  # σ(α) = 0
    assert ww[0, 0].tolist() == [0, 0, 1, 0, 0, 0, 0, 0]  # w^w = w^lu_{t−1}
    assert torch.equal(new.memory[0, 2], key[0, 0])  # old content cleared, then k written: M(2) = 0 + 1·k
    others = [i for i in range(8) if i != 2]
    assert torch.equal(new.memory[0, others], st.memory[0, others])


def test_lrua_open_gate_writes_to_the_previously_read_slot_and_still_zeroes_the_least_used():
    usage = torch.tensor([[0.9, 0.7, 0.05, 1.2, 0.6, 0.8, 1.1, 0.95]], dtype=torch.float64)
    prev_read = torch.zeros(1, 1, 8, dtype=torch.float64)
    prev_read[0, 0, 5] = 1.0
    st = _state(usage=usage, prev_read=prev_read)
    key = torch.tensor([[[0.3, -0.2, 0.5, 0.1]]], dtype=torch.float64)
    _, new, ww = lrua_step(st, key, torch.full((1, 1), BIG, dtype=torch.float64), 0.95)  # σ(α) = 1
    assert ww[0, 0].tolist() == prev_read[0, 0].tolist()  # w^w = w^r_{t−1}
    assert torch.equal(new.memory[0, 5], st.memory[0, 5] + key[0, 0])  # M_t = M_{t−1} + w^w k
    assert new.memory[0, 2].abs().sum() == 0  # the least-used slot is zeroed before writing
    untouched = [0, 1, 3, 4, 6, 7]
    assert torch.equal(new.memory[0, untouched], st.memory[0, untouched])


def test_lrua_interpolates_writes_and_updates_usage_by_the_paper():
    st = _state(heads=2, seed=3)
    g = torch.Generator().manual_seed(4)
    keys = torch.randn(1, 2, 4, generator=g, dtype=torch.float64)
    alpha = torch.tensor([[0.3, -1.2]], dtype=torch.float64)
    _, new, ww = lrua_step(st, keys, alpha, 0.9)
    s = torch.sigmoid(alpha).unsqueeze(-1)
    assert torch.allclose(ww, s * st.read_weights + (1 - s) * st.least_used.unsqueeze(1))
    cleared = st.memory * (1 - st.least_used).unsqueeze(-1)
    assert torch.allclose(new.memory, cleared + ww.transpose(1, 2) @ keys)
    assert st.least_used.sum() == 2  # n = number of reads
    assert torch.allclose(new.usage, 0.9 * st.usage + new.read_weights.sum(1) + ww.sum(1))  # w^u_t
    assert torch.equal(new.least_used, least_used_weights(new.usage, 2))
    # with a separate add vector (write_content="add") the values are written, the keys only read
    values = torch.randn(1, 2, 4, generator=g, dtype=torch.float64)
    reads, new, ww = lrua_step(st, keys, alpha, 0.9, values=values)
    assert torch.allclose(new.memory, cleared + ww.transpose(1, 2) @ values)
    assert torch.allclose(new.read_weights, cosine_read_weights(keys, new.memory)) and torch.allclose(reads, new.read_weights @ new.memory)


# -- the sequence protocol ----------------------------------------------------------------------

def _tagged_episodes(n_episodes, n_way=5, shots=4):
    """Episodes whose every image holds its (episode, class, instance) in three pixels."""
    tasks = []
    for e in range(n_episodes):
        x = torch.zeros(n_way * shots, 1, 28, 28)
        y = torch.arange(n_way).repeat_interleave(shots)
        x[:, 0, 0, 0] = e
        x[:, 0, 0, 1] = y.float()
        x[:, 0, 0, 2] = torch.arange(shots).repeat(n_way).float()
        tasks.append(core.Episode(x, y, torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long), tuple("abcde"[:n_way])))
    return tasks


def test_sequences_are_shuffled_with_a_fresh_label_assignment_per_episode():
    tasks = _tagged_episodes(30)
    images, labels = build_sequences(tasks, slots=5, generator=torch.Generator().manual_seed(0))
    assert images.shape == (30, 20, 1, 28, 28) and labels.shape == (30, 20)
    assignments, orders = set(), set()
    for e in range(30):
        cls, inst = images[e, :, 0, 0, 1].long(), images[e, :, 0, 0, 2].long()
        assert (images[e, :, 0, 0, 0] == e).all()
        assert sorted(zip(cls.tolist(), inst.tolist())) == [(c, i) for c in range(5) for i in range(4)]  # every example once
        mapping = {}
        for c, lab in zip(cls.tolist(), labels[e].tolist()):
            assert mapping.setdefault(c, lab) == lab  # one label per class within the episode
        assert sorted(mapping.values()) == list(range(5))
        assignments.add(tuple(mapping[c] for c in range(5)))
        orders.add(tuple(cls.tolist()))
    assert len(assignments) > 20 and len(orders) == 30  # reshuffled every episode
    # seeded: the same generator seed gives the same sequences
    again = build_sequences(tasks, slots=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[1], labels) and torch.equal(again[0], images)


def test_label_input_is_the_previous_steps_label():
    labels = torch.tensor([[3, 0, 3, 1], [2, 2, 4, 0]])
    prev = previous_labels(labels, 5)
    assert prev[:, 0].abs().sum() == 0
    assert torch.equal(prev[:, 1:].argmax(-1), labels[:, :-1]) and torch.equal(prev.sum(-1)[:, 1:], torch.ones(2, 3))
    assert presentation_index(labels).tolist() == [[1, 1, 2, 1], [1, 2, 1, 1]]


def test_the_label_of_step_t_reaches_the_output_only_from_step_t_plus_1():
    m = _tiny()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 12, 1, 28, 28, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (2, 12), generator=g)
    base = m.sequence_logits(images, labels)
    changed = labels.clone()
    changed[:, 6] = (labels[:, 6] + 1) % 5
    out = m.sequence_logits(images, changed)
    assert torch.equal(out[:, :7], base[:, :7])  # steps 0..6 cannot see label 6
    assert (out[:, 7] - base[:, 7]).abs().max() > 1e-8  # step 7 does


def test_gradients_reach_every_parameter_including_the_write_gates():
    m = _tiny()
    sampler = core.EpisodeSampler(core.builtin(n_classes=20, first_class=0), 5, 3, 0, seed=0)
    images, labels = build_sequences(sampler.take(2), 5, torch.Generator().manual_seed(0))
    loss = torch.nn.functional.cross_entropy(m.sequence_logits(images.double(), labels).flatten(0, 1), labels.flatten())
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    gate_rows = m.heads.weight.grad[-m.hparams.read_heads:]  # the α outputs: reach the loss only via later writes
    assert gate_rows.abs().sum() > 0


def test_classifier_reads_each_query_independently_from_the_state_after_the_support():
    m = _tiny()
    g = torch.Generator().manual_seed(1)
    sx, sy = torch.rand(6, 1, 28, 28, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    qx = torch.rand(5, 1, 28, 28, generator=g, dtype=torch.float64)
    clf = m.adapt(sx, sy)
    together = clf(qx)
    one_by_one = torch.cat([clf(qx[i:i + 1]) for i in range(5)])
    assert torch.allclose(together, one_by_one, atol=1e-12)
    assert together.shape == (5, 3) and torch.allclose(together.exp().sum(-1), torch.ones(5, dtype=torch.float64))
    # the support set matters: another support set gives other predictions
    assert not torch.allclose(m.adapt(sx.flip(0), sy)(qx), together)
    with pytest.raises(ValueError, match="label slots"):
        m.adapt(torch.rand(6, 1, 28, 28, dtype=torch.float64), torch.arange(6))


def test_training_steps_are_reproducible_and_a_checkpoint_resumes_the_sequence_stream(tmp_path):
    spec = core.InputSpec()
    hp = {"controller": 16, "memory_slots": 16, "memory_width": 8, "read_heads": 2, "image_size": 8, "instances": 3}
    tasks = core.EpisodeSampler(core.builtin(n_classes=20, first_class=0), 5, 3, 0, seed=0).take(2)

    def fresh():
        torch.manual_seed(0)
        return core.create("mann", hp, spec, n_way=5)

    a, b = fresh(), fresh()
    assert a.meta_train_step(tasks).loss == b.meta_train_step(tasks).loss
    core.save_checkpoint(tmp_path / "m.pt", a)
    c, _ = core.load_checkpoint(tmp_path / "m.pt")
    assert c.step_index == a.step_index == 1
    # the next step draws the same sequence order and labels, and the weights and optimizer match
    assert c.meta_train_step(tasks).loss == pytest.approx(a.meta_train_step(tasks).loss, abs=1e-6)


def test_paper_defaults_and_training_shape():
    cls = core.get_algorithm("mann")
    h = cls.HParams()
    assert cls.family == "model"
    assert (h.classes, h.instances, h.memory_slots, h.memory_width, h.controller, h.read_heads, h.image_size) == (5, 10, 128, 40, 200, 4, 20)
    assert cls.episode_defaults(h) == {"train_way": 5, "train_shot": 10, "train_query": 0, "meta_batch": h.meta_batch_size}


# -- learning -----------------------------------------------------------------------------------

def _one_drawing_per_class(source, copies: int = 10):
    """The same classes, each holding `copies` copies of its first drawing: every presentation of a
    class within a sequence is the identical image, so recognising it again is trivial and what is
    left to learn is the binding itself (store the label that arrives one step late with the image,
    recall it later)."""
    images = source.images[source.starts].repeat_interleave(copies, 0)
    return core.ClassSource(images, [copies] * len(source.base_names), source.base_names, source.spec,
                            source.rotations, f"{source.description}, one drawing per class")


# Half-size controller and memory (128 units, 64 × 40, two heads), the paper's key write, a
# sharpened read: 700 steps take ~40 s of one core. (The paper-size model binds in about the same
# number of steps at twice the time per step; smaller ones stayed on the plateau for 1,500 steps.)
BIND_HPARAMS = {"controller": 128, "memory_slots": 64, "read_heads": 2, "cosine_scale": 10, "lr": 5e-3}


def test_mann_learns_to_bind_images_to_labels_in_memory(small_real_sources, monkeypatch):
    """The paper's claim in seconds: after training, the 2nd and later presentations of a class are
    classified far better than the 1st — impossible without storing the (image, label) pair of an
    earlier step, since labels are reshuffled every sequence — and the store is the memory. Real Omniglot drawings, one drawing
    per class (see `_one_drawing_per_class`); the opt-in test below shows it across drawings."""
    train, test = (_one_drawing_per_class(s) for s in small_real_sources)
    cfg = core.TrainConfig(algorithm="mann", steps=700, val_every=10**6, val_episodes=0, device="cpu", seed=0,
                           hparams=BIND_HPARAMS)
    trainer = core.Trainer(cfg, train)
    losses = [p.loss for p in trainer.run()]
    acc = instance_accuracy(trainer.learner, test, n_classes=5, instances=10, episodes=200)
    later = sum(acc[k] for k in range(2, 11)) / 9
    print("accuracy by presentation:", {k: round(v, 3) for k, v in acc.items()})
    # Measured with one thread and deterministic algorithms (tests/core/conftest.py), the recipe run
    # with seeds 0-4 (the test uses 0; other CPUs' float32 kernels drift like another seed would),
    # on real Omniglot and on the built-in generator (what a clone without ../shared uses):
    #   Omniglot, seed  0      1      2      3      4     | built-in  0      1      2      3      4
    #   loss, last 50   0.978  0.784  0.770  0.971  0.772 |           0.839  0.798  0.938  0.861  0.926
    #   1st             0.305  0.316  0.315  0.301  0.319 |           0.279  0.326  0.311  0.297  0.307
    #   2nd             0.448  0.542  0.531  0.468  0.537 |           0.482  0.479  0.445  0.478  0.453
    #   2nd-10th        0.582  0.688  0.704  0.559  0.698 |           0.650  0.676  0.581  0.649  0.592
    #   reads zeroed    0.485  0.561  0.570  0.426  0.513 |           0.505  0.449  0.463  0.508  0.449
    # (first-10 loss 1.61 everywhere.) Each threshold sits well below the worst of the ten runs.
    assert sum(losses[-50:]) / 50 < 1.3 < sum(losses[:10]) / 10, (losses[:10], losses[-50:])  # ln 5 = 1.609
    assert acc[1] > 0.22, acc  # the 1st presentation: above chance (20%) only by excluding labels seen (worst 0.279)
    assert acc[2] > acc[1] + 0.06 and later > acc[1] + 0.15, acc  # worst: +0.134 and +0.258
    # The binding lives in the external memory, not only in the controller's state: with every
    # read zeroed (the same trained weights), the later presentations fall back part of the way
    # (the LSTM controller keeps some of the binding itself).
    from core.algorithms import mann

    read_and_write = mann.lrua_step

    def reads_zeroed(*args, **kwargs):
        reads, memory, write_weights = read_and_write(*args, **kwargs)
        return torch.zeros_like(reads), memory, write_weights

    monkeypatch.setattr(mann, "lrua_step", reads_zeroed)
    ablated = instance_accuracy(trainer.learner, test, n_classes=5, instances=10, episodes=200)
    ablated_later = sum(ablated[k] for k in range(2, 11)) / 9
    print(f"2nd-10th: {later:.3f}, with the reads zeroed: {ablated_later:.3f}")
    assert ablated_later < later - 0.05, (acc, ablated)  # worst: 0.097 below (next: 0.118)


@pytest.mark.slow
def test_mann_binds_images_to_labels_in_memory_after_a_thousand_steps(small_real_sources):
    """The paper's result in miniature (about 100 s on one core, so opt-in: `pytest -m slow`): the
    2nd and later presentations of a class are classified far better than the 1st, which no
    network can do without storing the (image, label) binding of an earlier step — here with a
    different drawing of the character at every presentation, as in the paper. Full-size model
    with the settings of the README's run (`presets["measured"]`: the paper's key write, sharpened
    read, lr 3e-3), the rate held constant: decayed over only 1,000 steps it binds less (measured:
    2nd–10th 0.51 against the 0.61 of a constant rate)."""
    train, test = small_real_sources
    cfg = core.TrainConfig(algorithm="mann", steps=1000, val_every=10**6, val_episodes=0, device="cpu", seed=0,
                           hparams={**core.ALGORITHMS["mann"].presets["measured"], "lr_schedule": "step"})
    trainer = core.Trainer(cfg, train)
    for _ in trainer.run():
        pass
    acc = instance_accuracy(trainer.learner, test, n_classes=5, instances=10, episodes=200)
    later = sum(acc[k] for k in range(2, 11)) / 9
    print("accuracy by presentation:", {k: round(v, 3) for k, v in acc.items()})
    # measured here: 1st 0.24, 2nd 0.51, 2nd–10th 0.61 (chance 0.2); margins left for other CPUs' numerics
    assert acc[2] > acc[1] + 0.15 and later > acc[1] + 0.25 and later > 0.5, acc
