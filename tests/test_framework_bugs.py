"""archc verify reports a framework's wrong result instead of hiding it: TensorFlow's oneDNN
convolution (on by default) is wrong for tests/data/onednn_strided_conv.arch, and verify runs the
Keras side with the user's own oneDNN setting, so it must say FAILED exactly when TF is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = Path(__file__).parent / "data" / "onednn_strided_conv.arch"

TF_CONV = """
import numpy as np, tensorflow as tf
x = np.random.default_rng(0).standard_normal((2, 7, 3, 1)).astype("float32")
k = np.random.default_rng(1).standard_normal((2, 2, 1, 5)).astype("float32")
y = tf.nn.conv2d(x, k, strides=(1, 1, 2, 1), padding="VALID").numpy()
ref = np.stack([np.einsum("nhwc,hwco->no", x[:, i : i + 2, 0:2, :], k) for i in range(6)], 1)[:, :, None, :]
print("wrong" if np.abs(y - ref).max() > 1e-4 else "right")
"""


@pytest.mark.slow
@pytest.mark.parametrize("onednn", ["1", "0"])
def test_verify_fails_exactly_when_tensorflow_computes_wrongly(onednn: str) -> None:
    pytest.importorskip("tensorflow")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_BACKEND", None)
    tf_is = subprocess.run([sys.executable, "-c", TF_CONV], capture_output=True, text=True, env=env, check=True).stdout.split()[-1]
    run = subprocess.run(
        [sys.executable, "-m", "archc", "verify", str(SPEC), "--backend", "tensorflow", "--quiet"], capture_output=True, text=True, env=env
    )
    assert ("StridedConv: FAILED" in run.stdout) == (tf_is == "wrong"), (tf_is, run.stdout, run.stderr)
    assert run.returncode == (1 if tf_is == "wrong" else 0)
