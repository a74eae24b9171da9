"""The default builds train with each framework's standard loss (issue 13: the README's GoogLeNet
loop with nn.CrossEntropyLoss did not learn while the model ended in softmax)."""

from __future__ import annotations

from pathlib import Path

import pytest

import archc

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]


def _steps(spec: str, steps: int = 5, lr: float = 1e-3, softmax: bool = False) -> list[float]:
    """Losses of a few Adam steps on one fixed batch, with nn.CrossEntropyLoss as users write it."""
    torch.manual_seed(0)
    net = archc.load(ROOT / "specs" / f"{spec}.arch")
    model = archc.build_model(net, "torch", softmax=softmax)
    model.train()
    classes = net.nodes[net.output].shape[0]
    x = torch.randn(2, *net.input_shape)
    y = torch.tensor([1, classes - 1])
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for m in model.modules():  # dropout off, so that the steps see one function
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    losses = []
    for _ in range(steps):
        out = model(x)
        if isinstance(out, tuple):  # train(): main output, then the aux heads (torchvision's 0.3 weight)
            loss = loss_fn(out[0], y) + 0.3 * sum(loss_fn(aux, y) for aux in out[1:])
        else:
            loss = loss_fn(-out if spec == "lenet5" else out, y)  # LeNet-5's RBF: a distance per class
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["lenet5", "alexnet", "googlenet", "vgg16"])
def test_default_torch_build_learns_with_cross_entropy(spec: str) -> None:
    losses = _steps(spec)
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.slow
def test_the_kept_softmax_is_what_did_not_learn() -> None:
    """The failure the default fixes: CrossEntropyLoss on probabilities barely moves (log 1000 ≈ 6.9078)."""
    kept = _steps("googlenet", softmax=True)
    assert abs(kept[-1] - kept[0]) < 0.01 * kept[0], kept


def test_keras_default_keeps_the_softmax_for_its_standard_loss() -> None:
    keras = pytest.importorskip("keras")
    import numpy as np

    net = archc.load(ROOT / "specs" / "alexnet.arch")
    model = archc.build_model(net, "keras")
    x = np.random.default_rng(0).standard_normal((2, 227, 227, 3)).astype("float32")
    probs = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)  # sparse_categorical_crossentropy's input
