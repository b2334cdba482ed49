"""A slow, literal NumPy transcription of the TensorFlow ELMo forward pass.

Used only to check skelmo's biLM on architectures the reference fixture does
not cover. One sentence at a time, one time step at a time, weights in their
TensorFlow orientation, gates in TensorFlow order (i, j, f, o).
"""

from __future__ import annotations

import numpy as np

from skelmo._format import BOS_TOKEN, EOS_TOKEN, ElmoOptions, ElmoWeights, token_to_ids


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def token_vectors(options: ElmoOptions, weights: ElmoWeights, tokens: list[str]) -> np.ndarray:
    embed = np.vstack([np.zeros((1, options.char_dim)), weights.char_embed]).astype(np.float64)
    out = []
    for token in tokens:
        chars = embed[token_to_ids(token)]  # (50, char_dim)
        pooled = []
        for kernel, bias in weights.conv:
            width = kernel.shape[1]
            windows = np.stack([chars[p : p + width].ravel() for p in range(50 - width + 1)])
            conv = windows @ kernel[0].reshape(width * options.char_dim, -1) + bias
            pooled.append(conv.max(axis=0))
        x = np.concatenate(pooled)
        x = np.maximum(x, 0) if options.activation == "relu" else np.tanh(x)
        for high in weights.highway:
            carry = _sigmoid(x @ high.w_carry + high.b_carry)
            x = carry * np.maximum(x @ high.w_transform + high.b_transform, 0) + (1 - carry) * x
        if weights.projection is not None:
            x = x @ weights.projection[0] + weights.projection[1]
        out.append(x)
    return np.array(out)


def forward(options: ElmoOptions, weights: ElmoWeights, sentence: list[str]) -> np.ndarray:
    """All layers ``(n_layers + 1, len(sentence), 2 * projection_dim)``, zero initial state."""
    tokens = token_vectors(options, weights, [BOS_TOKEN, *sentence, EOS_TOKEN])
    layers = [np.concatenate([tokens, tokens], axis=-1)]
    per_direction = []
    for direction in range(2):
        x = tokens if direction == 0 else tokens[::-1]
        outputs = []
        for layer, cell in enumerate(weights.lstm[direction]):
            h = np.zeros(options.projection_dim)
            c = np.zeros(options.cell_dim)
            ys = []
            for x_t in x:
                z = np.concatenate([x_t, h]) @ cell.kernel + cell.bias
                i, j, f, o = np.split(z, 4)
                c = _sigmoid(f + 1.0) * c + _sigmoid(i) * np.tanh(j)
                if options.cell_clip is not None:
                    c = np.clip(c, -options.cell_clip, options.cell_clip)
                h = (_sigmoid(o) * np.tanh(c)) @ cell.projection
                if options.proj_clip is not None:
                    h = np.clip(h, -options.proj_clip, options.proj_clip)
                ys.append(h)
            y = np.array(ys)
            if layer > 0 and options.use_skip_connections:
                y = y + x
            outputs.append(y if direction == 0 else y[::-1])
            x = y
        per_direction.append(outputs)
    for layer in range(options.n_layers):
        layers.append(np.concatenate([per_direction[0][layer], per_direction[1][layer]], -1))
    return np.array(layers)[:, 1:-1]
