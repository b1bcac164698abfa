"""A small model zoo for validating transferability scores against real fine-tuning.

Models (MLPs and small CNNs of several widths and depths, each "pretrained" for a short and a
long budget) learn scikit-learn's bundled 8x8 digits 0-4 ("task A", the pretraining task whose
held-out accuracy plays the published ImageNet top-1). Each then meets "task B", digits 5-9:
frozen penultimate features of a small labelled set (the user's data) go to the scores, and
the whole network is fine-tuned with one fixed recipe on that labelled set and tested on the
remaining task-B digits (mean over three fine-tuning seeds). Deterministic for a given seed;
about a minute on 2 CPU threads. Used by ``transfer_validation.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

LABELLED_PER_CLASS = 25
PRETRAIN_EPOCHS = {"short": 2, "long": 30}
FINETUNE = {"epochs": 30, "lr": 1e-3, "batch": 25, "seeds": (0, 1, 2)}


@dataclasses.dataclass
class ZooModel:
    name: str
    kind: str
    width: int
    depth: int
    budget: str
    task_a_accuracy: float = 0.0
    features: np.ndarray | None = None
    finetuned_accuracy: float = 0.0
    finetuned_spread: float = 0.0


def _data(seed: int):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    a = np.flatnonzero(y < 5)
    a = rng.permutation(a)
    cut = int(0.8 * a.size)
    a_train, a_test = a[:cut], a[cut:]
    b = np.flatnonzero(y >= 5)
    labelled = np.concatenate([rng.choice(b[y[b] == c], LABELLED_PER_CLASS, replace=False)
                               for c in range(5, 10)])
    b_test = np.setdiff1d(b, labelled)
    return x, y, a_train, a_test, labelled, b_test


def _body(kind: str, width: int, depth: int):
    import torch.nn as nn

    if kind == "mlp":
        layers, size = [], 64
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        return nn.Sequential(*layers), width
    channels = max(4, width // 8)
    layers = [nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, channels, 3, padding=1), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
    layers += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(channels * 16, width), nn.ReLU()]
    return nn.Sequential(*layers), width


def _train(model, x, y, epochs: int, lr: float, batch: int, seed: int):
    import torch

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        for start in range(0, x.shape[0], batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    model.eval()


def _accuracy(model, x, y) -> float:
    import torch

    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def specs() -> list[tuple[str, int, int]]:
    return ([("mlp", w, d) for w in (16, 64, 256) for d in (1, 2, 3)]
            + [("cnn", w, d) for w in (32, 128) for d in (1, 2)])


def build_zoo(seed: int = 0, threads: int = 2, log=print) -> tuple[list[ZooModel], np.ndarray]:
    """Train, extract and fine-tune every model; returns the models and the task-B labels of
    the labelled set (class codes 0..4)."""
    import copy

    import torch
    import torch.nn as nn

    torch.set_num_threads(threads)
    x_np, y_np, a_train, a_test, labelled, b_test = _data(seed)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    yb = y - 5
    zoo = []
    for i, (kind, width, depth) in enumerate(specs()):
        for budget, epochs in PRETRAIN_EPOCHS.items():
            torch.manual_seed(seed * 1000 + i)
            body, dim = _body(kind, width, depth)
            model = nn.Sequential(body, nn.Linear(dim, 5))
            _train(model, x[a_train], y[a_train], epochs, 1e-3, 64, seed * 1000 + i)
            entry = ZooModel(f"{kind}-w{width}-d{depth}-{budget}", kind, width, depth, budget,
                             task_a_accuracy=_accuracy(model, x[a_test], y[a_test]))
            with torch.no_grad():
                entry.features = body(x[labelled]).double().numpy()
            accs = []
            for ft_seed in FINETUNE["seeds"]:
                torch.manual_seed(10_000 + ft_seed)
                tuned = nn.Sequential(copy.deepcopy(body), nn.Linear(dim, 5))
                _train(tuned, x[labelled], yb[labelled], FINETUNE["epochs"], FINETUNE["lr"],
                       FINETUNE["batch"], 10_000 + ft_seed)
                accs.append(_accuracy(tuned, x[b_test], yb[b_test]))
            entry.finetuned_accuracy = float(np.mean(accs))
            entry.finetuned_spread = float(np.std(accs))
            log(f"  {entry.name:22s} task A {entry.task_a_accuracy:.3f}  "
                f"fine-tuned on B {entry.finetuned_accuracy:.3f} +- {entry.finetuned_spread:.3f}")
            zoo.append(entry)
    return zoo, y_np[labelled] - 5
