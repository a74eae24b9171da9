"""The special Keras layers a generated file may need, as source text copied into that file.

Keras 3 has no LRN, no ceil-mode, PyTorch-padded or adaptive pooling, no connection-table convolution,
no trainable subsampling, no RBF units, no layer scale and no stochastic depth. Each is a small `keras.layers.Layer` written with
`keras.ops` only (so it runs under the TensorFlow, JAX and torch backends), registered for
serialisation so that `model.save("x.keras")` and `keras.models.load_model` round-trip.
Every one computes exactly what the PyTorch backend's counterpart computes (see numbers.md,
"Framework semantics that bite"); tests/test_verify.py checks each against torch.

archc never imports keras: these are strings. The generator copies only the ones a spec uses.
"""

from __future__ import annotations

REGISTER = '@keras.saving.register_keras_serializable(package="archc")'

PAIR = '''
def pair(value):
    """A size as (height, width): 2 → (2, 2)."""
    return (value, value) if isinstance(value, int) else tuple(value)
'''

SCALED_TANH = f'''
{REGISTER}
def scaled_tanh(x):
    """LeNet-5's squashing function 1.7159 · tanh(2x/3)."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))
'''

GELU_TANH = f'''
{REGISTER}
def gelu_tanh(x):
    """GELU's tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (PyTorch's approximate="tanh")."""
    return keras.activations.gelu(x, approximate=True)
'''

LOCAL_RESPONSE_NORM = f'''
{REGISTER}
class LocalResponseNorm(layers.Layer):
    """x / (k + alpha/size · Σ x²)^beta, the sum over `size` neighbouring maps.

    Exactly torch.nn.LocalResponseNorm: the window reaches size // 2 maps below and
    (size - 1) // 2 above, zero-padded at the ends, and alpha is divided by size.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        # The window mean over the maps as one pooling op, as torch does it: one op per
        # map in the window would make `lrn 100000` a model of 100,000 ops.
        maps = x.shape[-1]
        squares = ops.reshape(ops.square(x), (-1, maps, 1))
        window = (self.size // 2, (self.size - 1) // 2)
        padded = ops.pad(squares, [(0, 0), window, (0, 0)])
        mean = ops.average_pool(padded, self.size, strides=1, padding="valid")
        mean = ops.reshape(mean, (-1, *x.shape[1:]))
        return x / ops.power(self.k + self.alpha * mean, self.beta)

    def get_config(self):
        config = {{"size": self.size, "alpha": self.alpha, "beta": self.beta}}
        return {{**super().get_config(), **config, "k": self.k}}
'''

PADDED_MAX_POOL = f'''
{REGISTER}
class PaddedMaxPool2D(layers.Layer):
    """Max pooling as torch.nn.MaxPool2d: `padding` of -inf on each side, then `extra`
    rows and columns of -inf at the bottom and right for ceil mode's last window.
    """

    def __init__(self, pool_size, strides, padding=(0, 0), extra=(0, 0), **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides = pair(pool_size), pair(strides)
        self.padding, self.extra = tuple(padding), tuple(extra)

    def call(self, x):
        (ph, pw), (eh, ew) = self.padding, self.extra
        pad = [(0, 0), (ph, ph + eh), (pw, pw + ew), (0, 0)]
        x = ops.pad(x, pad, constant_values=float("-inf"))
        return ops.max_pool(x, self.pool_size, self.strides, padding="valid")

    def get_config(self):
        config = {{"pool_size": self.pool_size, "strides": self.strides}}
        config.update(padding=self.padding, extra=self.extra)
        return {{**super().get_config(), **config}}
'''

PADDED_AVG_POOL = f'''
{REGISTER}
class PaddedAvgPool2D(layers.Layer):
    """Average pooling as torch.nn.AvgPool2d: the zero `padding` counts in each window's
    divisor (count_include_pad=True) unless `count_pad` is False; ceil mode's `extra` rows
    and columns never do.
    """

    def __init__(
        self, pool_size, strides, padding=(0, 0), extra=(0, 0), count_pad=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.pool_size, self.strides = pair(pool_size), pair(strides)
        self.padding, self.extra = tuple(padding), tuple(extra)
        self.count_pad = count_pad

    def call(self, x):
        (ph, pw), (eh, ew) = self.padding, self.extra
        # 1 where an element counts in the divisor: the input, and the padding if count_pad.
        counted = ops.ones((1, x.shape[1], x.shape[2], 1), dtype=x.dtype)
        border = 1.0 if self.count_pad else 0.0
        counted = ops.pad(
            counted, [(0, 0), (ph, ph), (pw, pw), (0, 0)], constant_values=border
        )
        counted = ops.pad(counted, [(0, 0), (0, eh), (0, ew), (0, 0)])
        x = ops.pad(x, [(0, 0), (ph, ph + eh), (pw, pw + ew), (0, 0)])
        sums = ops.average_pool(x, self.pool_size, self.strides, padding="valid")
        share = ops.average_pool(counted, self.pool_size, self.strides, padding="valid")
        return sums / share

    def get_config(self):
        config = {{"pool_size": self.pool_size, "strides": self.strides}}
        config.update(padding=self.padding, extra=self.extra, count_pad=self.count_pad)
        return {{**super().get_config(), **config}}
'''

ADAPTIVE_POOL = f'''
{REGISTER}
class AdaptivePool2D(layers.Layer):
    """torch.nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d (`mode` "average" or "max"):
    output row i pools input rows floor(i·H/out) to ceil((i+1)·H/out) - 1, and likewise
    for columns, so windows may differ in size by one and overlap. Rows, then columns:
    the mean (or maximum) of a rectangle is that of its row windows' results.
    """

    def __init__(self, output_size, mode="average", **kwargs):
        super().__init__(**kwargs)
        self.output_size, self.mode = pair(output_size), mode

    @staticmethod
    def windows(size, out):
        return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]

    def call(self, x):
        pool = ops.mean if self.mode == "average" else ops.max
        rows = self.windows(x.shape[1], self.output_size[0])
        x = ops.concatenate(
            [pool(x[:, a:b], axis=1, keepdims=True) for a, b in rows], axis=1
        )
        cols = self.windows(x.shape[2], self.output_size[1])
        return ops.concatenate(
            [pool(x[:, :, a:b], axis=2, keepdims=True) for a, b in cols], axis=2
        )

    def get_config(self):
        config = {{"output_size": self.output_size, "mode": self.mode}}
        return {{**super().get_config(), **config}}
'''

SUBSAMPLING = f'''
{REGISTER}
class Subsampling(layers.Layer):
    """LeNet-5's trainable subsampling: the sum of each window times a coefficient,
    plus a bias, one of each per map, then the activation.
    """

    def __init__(self, pool_size, strides, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides = pair(pool_size), pair(strides)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        maps = input_shape[-1]
        self.coefficient = self.add_weight(
            shape=(maps,), initializer="ones", name="coefficient"
        )
        self.bias = self.add_weight(shape=(maps,), initializer="zeros", name="bias")

    def call(self, x):
        area = self.pool_size[0] * self.pool_size[1]
        sums = ops.average_pool(x, self.pool_size, self.strides, padding="valid") * area
        return self.activation(sums * self.coefficient + self.bias)

    def get_config(self):
        activation = keras.activations.serialize(self.activation)
        config = {{"pool_size": self.pool_size, "strides": self.strides}}
        return {{**super().get_config(), **config, "activation": activation}}
'''

CONNECTION_TABLE_CONV = f'''
{REGISTER}
class ConnectionTableConv2D(layers.Layer):
    """A convolution whose output map j reads only the input maps table[j] (LeNet's C3).

    `kernel` holds one filter per connection, shape (links, kh, kw), ordered by output
    map, then input map; `bias` has one value per output map. Only links are weights.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        table,
        strides=(1, 1),
        padding="valid",
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, pair(kernel_size)
        self.table = tuple(tuple(maps) for maps in table)
        self.strides, self.dilation_rate = pair(strides), pair(dilation_rate)
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias

    def build(self, input_shape):
        self.in_maps = input_shape[-1]
        shape = (sum(len(maps) for maps in self.table), *self.kernel_size)
        self.kernel = self.add_weight(shape=shape, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.filters,), initializer="zeros", name="bias"
            )

    def call(self, x):
        # Spread each link's filter to its (input map, output map) place in a kernel.
        out_maps, (kh, kw) = self.filters, self.kernel_size
        places = [i * out_maps + j for j, maps in enumerate(self.table) for i in maps]
        spread = ops.one_hot(places, self.in_maps * out_maps, dtype=self.kernel.dtype)
        flat = ops.reshape(ops.transpose(self.kernel, (1, 2, 0)), (kh * kw, -1))
        full = ops.reshape(ops.matmul(flat, spread), (kh, kw, self.in_maps, out_maps))
        y = ops.conv(
            x, full, self.strides, self.padding, dilation_rate=self.dilation_rate
        )
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def get_config(self):
        config = {{"filters": self.filters, "kernel_size": self.kernel_size}}
        config.update(table=self.table, strides=self.strides, use_bias=self.use_bias)
        config.update(dilation_rate=self.dilation_rate, padding=self.padding)
        activation = keras.activations.serialize(self.activation)
        return {{**super().get_config(), **config, "activation": activation}}
'''

RBF = f'''
{REGISTER}
class RBF(layers.Layer):
    """Euclidean RBF units: y_i = Σ_j (x_j - w_ij)², one centre per unit, no bias."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        shape = (self.units, input_shape[-1])
        self.centres = self.add_weight(shape=shape, name="centres")

    def call(self, x):
        return ops.sum(ops.square(ops.expand_dims(x, 1) - self.centres), axis=-1)

    def get_config(self):
        return {{**super().get_config(), "units": self.units}}
'''

CHANNEL_SPLIT = f'''
{REGISTER}
class ChannelSplit(layers.Layer):
    """Part `part` of `parts` equal groups of consecutive maps (torch's x.chunk(parts, 1)[part])."""

    def __init__(self, parts, part=0, **kwargs):
        super().__init__(**kwargs)
        self.parts, self.part = parts, part

    def call(self, x):
        size = x.shape[-1] // self.parts
        return x[..., self.part * size : (self.part + 1) * size]

    def get_config(self):
        return {{**super().get_config(), "parts": self.parts, "part": self.part}}
'''

CHANNEL_SHUFFLE = f'''
{REGISTER}
class ChannelShuffle(layers.Layer):
    """ShuffleNet's channel shuffle in torch's map order: the maps as `groups` rows, read by columns."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups

    def call(self, x):
        h, w, c = x.shape[1:]
        x = ops.reshape(x, (-1, h, w, self.groups, c // self.groups))
        x = ops.transpose(x, (0, 1, 2, 4, 3))
        return ops.reshape(x, (-1, h, w, c))

    def get_config(self):
        return {{**super().get_config(), "groups": self.groups}}
'''

LAYER_SCALE = f'''
{REGISTER}
class LayerScale(layers.Layer):
    """A learnable scale per map (the last axis): y = gamma · x, gamma initially `init`."""

    def __init__(self, init=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        constant = keras.initializers.Constant(self.init)
        self.gamma = self.add_weight(
            shape=(input_shape[-1],), initializer=constant, name="gamma"
        )

    def call(self, x):
        return self.gamma * x

    def get_config(self):
        return {{**super().get_config(), "init": self.init}}
'''

STOCHASTIC_DEPTH = f'''
{REGISTER}
class StochasticDepth(layers.Layer):
    """While training, zeroes each sample's whole input with probability `rate` and scales
    the kept ones by 1 / (1 - rate) (torchvision's StochasticDepth, mode "row"); the
    identity in inference.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        survival = 1.0 - self.rate
        size = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)  # one draw per sample
        draw = keras.random.uniform(size, seed=self.seed_generator, dtype=x.dtype)
        return x * (ops.floor(survival + draw) / survival)

    def get_config(self):
        return {{**super().get_config(), "rate": self.rate, "seed": self.seed}}
'''

STORED_NORMALIZATION = f'''
{REGISTER}
class StoredNormalization(layers.Normalization):
    """layers.Normalization(axis=-1) whose mean, variance and count are non-trainable weights,
    as in EfficientNet's keras.applications stem, starting at the given constants: so the
    model's weight list is the application's, and set_weights(app.get_weights()) loads them.

    It computes what Normalization computes, (x - mean) / maximum(sqrt(variance), epsilon),
    from the weights at each call, so that values assigned later take effect.
    """

    def __init__(self, mean, variance, **kwargs):
        super().__init__(axis=-1, **kwargs)
        self.initial_mean, self.initial_variance = mean, variance

    def build(self, input_shape):
        super().build(input_shape)
        shape = self.adapt_mean.shape
        self.adapt_mean.assign(ops.broadcast_to(ops.convert_to_tensor(self.initial_mean, "float32"), shape))
        self.adapt_variance.assign(ops.broadcast_to(ops.convert_to_tensor(self.initial_variance, "float32"), shape))
        self.finalize_state()

    def call(self, x):
        mean = ops.reshape(ops.cast(self.adapt_mean, x.dtype), self._broadcast_shape)
        variance = ops.reshape(ops.cast(self.adapt_variance, x.dtype), self._broadcast_shape)
        return (x - mean) / ops.maximum(ops.sqrt(variance), keras.config.epsilon())

    def get_config(self):
        config = {{k: v for k, v in super().get_config().items() if k not in ("axis", "mean", "variance", "invert")}}
        return {{**config, "mean": self.initial_mean, "variance": self.initial_variance}}
'''

# Name in the generated file → its source, in the order they are written.
SOURCES: dict[str, str] = {
    "pair": PAIR,
    "scaled_tanh": SCALED_TANH,
    "gelu_tanh": GELU_TANH,
    "LocalResponseNorm": LOCAL_RESPONSE_NORM,
    "PaddedMaxPool2D": PADDED_MAX_POOL,
    "PaddedAvgPool2D": PADDED_AVG_POOL,
    "AdaptivePool2D": ADAPTIVE_POOL,
    "Subsampling": SUBSAMPLING,
    "ConnectionTableConv2D": CONNECTION_TABLE_CONV,
    "RBF": RBF,
    "ChannelSplit": CHANNEL_SPLIT,
    "ChannelShuffle": CHANNEL_SHUFFLE,
    "LayerScale": LAYER_SCALE,
    "StochasticDepth": STOCHASTIC_DEPTH,
    "StoredNormalization": STORED_NORMALIZATION,
}

# What each source calls besides keras.
NEEDS: dict[str, tuple[str, ...]] = {
    "PaddedMaxPool2D": ("pair",),
    "PaddedAvgPool2D": ("pair",),
    "AdaptivePool2D": ("pair",),
    "Subsampling": ("pair",),
    "ConnectionTableConv2D": ("pair",),
}
