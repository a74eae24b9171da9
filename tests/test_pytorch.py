"""The PyTorch backend against the real framework: counts, shapes, names, semantics, portability."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import archc  # noqa: E402
from archc.backends.pytorch import torch_paths  # noqa: E402
from archc.build import generate  # noqa: E402
from archc.runtime import build_model, load_module  # noqa: E402
from tests.golden import ROOT, mismatch  # noqa: E402
from tests.golden_pytorch import SPECS, source  # noqa: E402

SEEDS = ("lenet5", "alexnet", "vgg16", "googlenet", "examples/resnet18")


def spec_path(spec: str) -> Path:
    return ROOT / "specs" / f"{spec}.arch"


@pytest.fixture(scope="module", params=SEEDS)
def built(request: pytest.FixtureRequest):
    net = archc.load(spec_path(request.param))
    torch.manual_seed(0)
    return net, build_model(net, "torch")


def test_parameter_count_equals_summary(built) -> None:
    net, model = built
    assert sum(p.numel() for p in model.parameters()) == net.total_params


def test_every_layer_output_shape_equals_checker(built) -> None:
    net, model = built
    modules = dict(model.named_modules())
    paths = torch_paths(net)
    seen: dict[str, tuple[int, ...]] = {}
    hooks = []
    for node in net.layers:
        key = paths[node.path]
        if key in modules and node.op in ("conv", "maxpool", "avgpool", "subsample", "lrn", "batchnorm", "dense", "rbf", "dropout"):
            hooks.append(modules[key].register_forward_hook(lambda m, i, o, k=key: seen.__setitem__(k, tuple(o.shape[1:]))))
    model.train()  # aux heads run too
    with torch.no_grad():
        model(torch.randn(1, *net.input_shape))
    for h in hooks:
        h.remove()
    expected = {paths[n.path]: n.shape for n in net.layers if paths[n.path] in seen}
    assert seen == expected and len(seen) >= 5


def test_forward_backward_and_deterministic_eval(built) -> None:
    net, model = built
    x = torch.randn(2, *net.input_shape)
    model.train()
    out = model(x)
    main = out[0] if isinstance(out, tuple) else out
    assert tuple(main.shape) == (2, *net.nodes[net.output].shape)
    (main.sum() + sum(o.sum() for o in out[1:]) if isinstance(out, tuple) else main.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert isinstance(a, torch.Tensor) and torch.equal(a, b)


def test_meta_device_leaves_nothing_on_cpu(built) -> None:
    net, _ = built
    meta = build_model(net, "torch").to("meta")
    assert all(t.device.type == "meta" for t in [*meta.parameters(), *meta.buffers()])
    meta.eval()
    out = meta(torch.empty(2, *net.input_shape, device="meta"))  # no tensor created on a fixed device
    assert out.device.type == "meta"


def test_state_dict_keys_are_spec_names() -> None:
    lenet = build_model(spec_path("lenet5"), "torch")
    assert set(lenet.state_dict()) == {
        *(f"{n}.weight" for n in ("C1", "S2", "C3", "S4", "C5", "F6", "output")),
        *(f"{n}.bias" for n in ("C1", "S2", "C3", "S4", "C5", "F6")),
    }
    google = build_model(spec_path("googlenet"), "torch").state_dict()
    assert google["inception4a.b2.conv_2.weight"].shape == (208, 96, 3, 3)
    assert google["aux2.fc1.weight"].shape == (1024, 2048)
    resnet = build_model(spec_path("examples/resnet18"), "torch").state_dict()
    assert resnet["layer1.1.residual.conv2.weight"].shape == (64, 64, 3, 3)
    assert resnet["layer2_0.shortcut.conv.weight"].shape == (128, 64, 1, 1)


def test_connection_table_has_exactly_the_table_parameters() -> None:
    model = build_model(spec_path("lenet5"), "torch")
    c3 = model.C3
    assert sum(p.numel() for p in c3.parameters()) == 1516  # not the 2,416 of a masked dense conv
    # output map 0 reads S2 maps 0, 1, 2 only: changing map 3 leaves it untouched
    x = torch.randn(1, 6, 14, 14)
    y = x.clone()
    y[:, 3] += 1.0
    with torch.no_grad():
        assert torch.equal(c3(x)[:, 0], c3(y)[:, 0])
        assert not torch.equal(c3(x)[:, 3], c3(y)[:, 3])


def test_table_conv_inference_cache_follows_weight_changes() -> None:
    c3 = build_model(spec_path("lenet5"), "torch").eval().C3
    x = torch.randn(2, 6, 14, 14)
    with torch.no_grad():
        first = c3(x)
        assert c3._dense is not None  # inference reuses the scattered weight
        c3.weight.mul_(2.0)  # an in-place update, as an optimizer makes
        second = c3(x)
        c3.weight.data = torch.randn_like(c3.weight)  # a new tensor altogether
        third = c3(x)
        torch.testing.assert_close(third, F.conv2d(x, c3.dense_weight(), c3.bias))
    torch.testing.assert_close(second - c3.bias.view(1, -1, 1, 1), 2 * (first - c3.bias.view(1, -1, 1, 1)))
    c3.train()
    c3(x).sum().backward()  # with autograd on, gradients reach the kernels
    assert c3.weight.grad is not None and c3.weight.grad.abs().sum() > 0


def test_aux_heads_train_tuple_eval_tensor() -> None:
    model = build_model(spec_path("googlenet"), "torch")
    x = torch.randn(1, 3, 224, 224)
    model.train()
    out = model(x)
    assert out._fields == ("main", "aux1", "aux2")
    model.eval()
    assert isinstance(model(x), torch.Tensor)


def test_logits_are_the_default_and_softmax_keeps_only_the_trailing_one() -> None:
    net = archc.load(spec_path("alexnet"))
    kept = generate([net], "torch", "specs/alexnet.arch", softmax=True)
    default = source("alexnet")
    assert default == generate([net], "torch", "specs/alexnet.arch", softmax=False)
    assert "F.softmax(self.fc8(x), dim=1)" in kept and "Returns probabilities" in kept
    assert "F.softmax" not in default and "F.relu(self.fc7(x), inplace=True)" in default
    assert "Returns logits" in default and "nn.CrossEntropyLoss" in default
    model = build_model(spec_path("alexnet"), "torch", logits=True).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 227, 227))
    assert not torch.allclose(out.sum(1), torch.ones(2))


def test_dropout_only_in_training() -> None:
    model = build_model(spec_path("vgg16"), "torch")
    x = torch.randn(1, 512, 7, 7)
    head = torch.nn.Sequential(model.drop6)
    head.train()
    assert not torch.equal(head(torch.ones(1, 4096)), torch.ones(1, 4096))
    head.eval()
    assert torch.equal(head(torch.ones(1, 4096)), torch.ones(1, 4096))
    del x


def test_semantics_ceil_pools_lrn_groups() -> None:
    model = build_model(spec_path("googlenet"), "torch")
    assert model.pool1.ceil_mode and model.pool1.stride == 2
    assert model.inception3a.b4.maxpool_1.stride == 1  # PyTorch pools default stride to the kernel: must be explicit
    assert isinstance(model.norm1, torch.nn.LocalResponseNorm) and model.norm1.size == 5
    alex = build_model(spec_path("alexnet"), "torch")
    assert alex.conv2.groups == 2 and alex.conv2.weight.shape == (256, 48, 5, 5)


def test_lrn_paper_convention_scales_alpha() -> None:
    text = "network N {\n input x: 8x4x4\n a: lrn 5 alpha=0.0001 beta=0.75 k=2 convention=paper\n}\n"
    model = build_model(text, "torch")
    assert model.a.alpha == pytest.approx(0.0005) and model.a.k == 2.0


@pytest.mark.parametrize("spec", SPECS)
def test_golden_source(spec: str) -> None:
    name = f"{spec.split('/')[-1]}.py"
    problem = mismatch("pytorch", name, source(spec))
    assert problem is None, problem


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first = source("googlenet")
    assert source("googlenet") == first
    out = subprocess.run(
        [sys.executable, "-c", "from tests.golden_pytorch import source; print(source('googlenet'), end='')"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert out.stdout == first


def test_generated_code_is_ruff_clean(tmp_path: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed")
    for spec in SPECS:
        (tmp_path / f"{spec.split('/')[-1]}.py").write_text(source(spec))
    from tests.test_verify import ORACLES  # small networks reaching every op (long per-channel lists too)

    for name, text in ORACLES.items():
        nets = archc.compile_source(textwrap.dedent(text)).networks
        (tmp_path / f"oracle_{name}.py").write_text(generate(nets, "torch", f"{name}.arch"))
    check = subprocess.run([str(ruff), "check", "--isolated", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run([str(ruff), "format", "--isolated", "--check", str(tmp_path)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout


def test_generated_file_imports_only_torch_and_stdlib() -> None:
    for spec in SPECS:
        imports = [line for line in source(spec).splitlines() if line.startswith(("import ", "from "))]
        for line in imports:
            module = line.split()[1].split(".")[0]
            assert module in {"__future__", "typing", "torch"}, line


def test_build_command_writes_importable_module(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "archc", "build", str(spec_path("lenet5")), "-o", str(tmp_path)]
    assert subprocess.run([*run, "--target", "torch"], capture_output=True).returncode == 0
    assert subprocess.run([*run, "--target", "keras"], capture_output=True).returncode in (0, 1)
    torch_file = tmp_path / "lenet5_torch.py"
    assert torch_file.read_text().startswith("# archc-generated")
    module = load_module(torch_file.read_text(), "lenet5_torch_test")
    assert sum(p.numel() for p in module.LeNet5().parameters()) == 60840
    foreign = tmp_path / "lenet5_torch.py"
    foreign.write_text("my own code\n")
    refused = subprocess.run([*run, "--target", "torch"], capture_output=True, text=True)
    assert refused.returncode == 2 and "--force" in refused.stderr and foreign.read_text() == "my own code\n"
    assert subprocess.run([*run, "--target", "torch", "--force"], capture_output=True).returncode == 0


def test_line_comments_point_at_the_spec() -> None:
    text = generate([archc.load(spec_path("lenet5"))], "torch", "specs/lenet5.arch", line_comments=True)
    assert "x = scaled_tanh(self.C1(x))  # " in text and "lenet5.arch:7" in text


def test_torch_export_succeeds_for_every_seed(built) -> None:
    net, model = built
    model.eval()
    exported = torch.export.export(model, (torch.randn(1, *net.input_shape),))
    assert exported.graph_signature is not None


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["lenet5", "alexnet"])
def test_torch_compile_fullgraph_no_graph_break(spec: str) -> None:
    net = archc.load(spec_path(spec))
    model = build_model(net, "torch").eval()
    x = torch.randn(1, *net.input_shape)
    with torch.no_grad():
        expected = model(x)
        compiled = torch.compile(model, fullgraph=True)
        torch.testing.assert_close(compiled(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_lenet5_learns_digits() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    torch.manual_seed(0)
    digits = datasets.load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.pad(F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False), (2, 2, 2, 2))  # 8x8 → 32x32
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1400], perm[1400:]
    model = build_model(spec_path("lenet5"), "torch")
    epochs, batch = 25, 32
    steps = epochs * ((len(train) + batch - 1) // batch)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for _ in range(epochs):
        model.train()
        for i in range(0, len(train), batch):
            idx = train[i : i + batch]
            loss = F.cross_entropy(-model(x[idx]), y[idx])  # RBF outputs are penalties: lower is better
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        accuracy = ((-model(x[test])).argmax(1) == y[test]).float().mean().item()
    print(f"LeNet-5 held-out accuracy on digits: {accuracy:.3f}")
    assert accuracy >= 0.95


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("spec", ["lenet5", "alexnet", "vgg16", "googlenet"])
def test_cuda_bf16_channels_last_matches_cpu(spec: str) -> None:
    net = archc.load(spec_path(spec))
    torch.manual_seed(0)
    model = build_model(net, "torch").eval()
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        expected = model(x)
    gpu = model.to("cuda", memory_format=torch.channels_last)
    xg = x.to("cuda", memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(gpu(xg).cpu(), expected, rtol=1e-3, atol=1e-4)  # fp32 on GPU vs CPU
    gpu.train()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = gpu(xg)
        main = out[0] if isinstance(out, tuple) else out
    main.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in gpu.parameters())
