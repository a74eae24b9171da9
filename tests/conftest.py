"""Test-session settings that must be in place before any framework is imported."""

from __future__ import annotations

import os

# TensorFlow 2.21's oneDNN convolution computes garbage for some strided shapes (a 2x2 kernel
# with stride 1x2 over a 7x3x1 map: errors of 1e+23; docs/targets.md has the repro). The suite
# tests archc's code, so its Keras side runs on TensorFlow's own kernels; that archc verify
# reports the framework's wrong result is tested in tests/test_framework_bugs.py.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
