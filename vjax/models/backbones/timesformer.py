"""TimeSformer (Bertasius et al., 2021) with MMAction2's arguments and state-dict names.

Input (N, T, H, W, C), output the normalised class token (N, embed_dims). Each frame is cut
into patches (``patch_embed.projection``), a class token is prepended and ``pos_embed``
added per frame; unless attention is 'space_only', the frames' patch tokens are then laid
out patch-major ((patch, frame) order, the order the divided attentions reshape by) with
``time_embed`` added, behind one class token per video. The encoder is mmcv's
config-driven layer stack (vjax.models.layers.transformer):

- 'divided_space_time': temporal attention (per patch, over frames) then spatial attention
  (per frame, over patches and the class token), then an FFN, each with its own pre-norm;
- 'joint_space_time': pre-norm ViT layers over all patches of all frames;
- 'space_only': pre-norm ViT layers per frame; the frames' tokens are averaged at the end.

``pretrained`` names the backbone checkpoint training starts from (vjax.convert.pretrained;
nothing is downloaded); ``image_checkpoint_state`` is the rewrite MMAction2 applies to an
image (ViT) checkpoint before loading it into divided attention.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from vjax.models.builder import MODELS
from vjax.models.layers.conv import Conv
from vjax.models.layers.transformer import build_transformer_layer_sequence, layer_norm

ATTENTION_TYPES = ("divided_space_time", "space_only", "joint_space_time")

# mmcv's trunc_normal_ cuts at +-2 in absolute terms: at std 0.02 that is a plain normal.
embed_init = nn.initializers.normal(0.02)


def pair(v) -> tuple[int, int]:
  return (v, v) if isinstance(v, int) else tuple(v)


def default_layers(attention_type: str, embed_dims: int, num_heads: int, num_frames: int,
                   num_layers: int) -> dict:
  """The encoder config MMAction2's TimeSformer builds when ``transformer_layers`` is None,
  stochastic depth rising linearly from 0 to 0.1 over the layers."""
  ln = dict(type="LN", eps=1e-6)
  layers = []
  for p in np.linspace(0, 0.1, num_layers).tolist():
    drop = dict(type="DropPath", drop_prob=p)
    if attention_type == "divided_space_time":
      attn = dict(embed_dims=embed_dims, num_heads=num_heads, num_frames=num_frames,
                  dropout_layer=drop, norm_cfg=ln)
      layers.append(dict(
          type="BaseTransformerLayer",
          attn_cfgs=[dict(attn, type="DividedTemporalAttentionWithNorm"),
                     dict(attn, type="DividedSpatialAttentionWithNorm")],
          ffn_cfgs=dict(type="FFNWithNorm", embed_dims=embed_dims,
                        feedforward_channels=embed_dims * 4, num_fcs=2,
                        act_cfg=dict(type="GELU"), dropout_layer=drop, norm_cfg=ln),
          operation_order=("self_attn", "self_attn", "ffn")))
    else:
      layers.append(dict(
          type="BaseTransformerLayer",
          attn_cfgs=[dict(type="MultiheadAttention", embed_dims=embed_dims,
                          num_heads=num_heads, batch_first=True, dropout_layer=drop)],
          ffn_cfgs=dict(type="FFN", embed_dims=embed_dims, feedforward_channels=embed_dims * 4,
                        num_fcs=2, act_cfg=dict(type="GELU"), dropout_layer=drop),
          operation_order=("norm", "self_attn", "norm", "ffn"),
          norm_cfg=ln, batch_first=True))
  return dict(type="TransformerLayerSequence", transformerlayers=layers, num_layers=num_layers)


class PatchEmbed(nn.Module):
  """Non-overlapping patches of each frame, projected to ``embed_dims``: (B, H, W, C) ->
  (B, patches, embed_dims), patches in row-major order."""

  patch_size: int | Sequence[int]
  embed_dims: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    p = pair(self.patch_size)
    x = Conv(self.embed_dims, p, strides=p, padding="VALID", dtype=self.dtype,
                # mmcv kaiming_init(mode='fan_in', nonlinearity='linear'): LeCun normal.
                kernel_init=nn.with_logical_partitioning(
                    nn.initializers.variance_scaling(1.0, "fan_in", "normal"),
                    (None, None, "conv_in", "embed")),
                bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("embed",)),
                name="projection")(x)
    return x.reshape(x.shape[0], -1, x.shape[-1])


@MODELS.register
class TimeSformer(nn.Module):
  num_frames: int
  img_size: int | Sequence[int]
  patch_size: int | Sequence[int]
  pretrained: str | None = None
  embed_dims: int = 768
  num_heads: int = 12
  num_transformer_layers: int = 12
  in_channels: int = 3
  dropout_ratio: float = 0.0
  transformer_layers: Mapping[str, Any] | None = None
  attention_type: str = "divided_space_time"
  norm_cfg: Mapping[str, Any] | None = None  # None: dict(type='LN', eps=1e-6)
  norm_groups: int | None = None  # no BatchNorm here; accepted from the recognizer
  dtype: Any = jnp.float32

  @nn.nowrap
  def num_patches(self) -> int:
    (h, w), (ph, pw) = pair(self.img_size), pair(self.patch_size)
    if (h // ph) * (w // pw) * ph * pw != h * w:
      raise ValueError(f"img_size {self.img_size} must be divisible by patch_size "
                       f"{self.patch_size}")
    return (h // ph) * (w // pw)

  @nn.nowrap
  def image_checkpoint_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
    """An image transformer's state dict (ViT in mmcv's layer names, as MMAction2's
    ``vit_base_patch16_224.pth``) rewritten the way MMAction2's ``init_weights`` does before
    loading it: for divided space-time attention each layer's ``norms.0`` / ``norms.1``
    become ``attentions.0.norm`` / ``ffns.0.norm``, and every ``attentions.0`` entry also
    fills ``attentions.1``, so temporal and spatial attention both start from the image
    attention (``temporal_fc`` stays zero). Other attention types load it unchanged."""
    state = dict(state)
    if self.attention_type != "divided_space_time":
      return state
    renamed = {}
    for key, value in state.items():
      if "norms" in key:
        key = key.replace("norms.0", "attentions.0.norm").replace("norms.1", "ffns.0.norm")
      renamed[key] = value
    for key in list(renamed):
      if "attentions.0" in key:
        renamed[key.replace("attentions.0", "attentions.1")] = renamed[key]
    return renamed

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.attention_type not in ATTENTION_TYPES:
      raise ValueError(f"attention_type {self.attention_type!r} is not supported; use one of "
                       f"{ATTENTION_TYPES}")
    if self.transformer_layers is not None and not isinstance(self.transformer_layers,
                                                              Mapping):
      raise TypeError("transformer_layers must be None or a TransformerLayerSequence config "
                      f"dict, got {type(self.transformer_layers).__name__}")
    n, t, h, w, c = x.shape
    if t != self.num_frames:
      raise ValueError(f"TimeSformer(num_frames={self.num_frames}) got clips of {t} frames; "
                       "sample clip_len=num_frames frames")
    if c != self.in_channels:
      raise ValueError(f"TimeSformer(in_channels={self.in_channels}) got {c} input channels")
    num_patches, e = self.num_patches(), self.embed_dims
    drop = lambda v: nn.Dropout(self.dropout_ratio, deterministic=not train)(v)  # noqa: E731

    x = PatchEmbed(self.patch_size, e, self.dtype, name="patch_embed")(
        x.astype(self.dtype).reshape(n * t, h, w, c))
    if x.shape[1] != num_patches:
      raise ValueError(f"{h}x{w} frames give {x.shape[1]} patches of {pair(self.patch_size)}, "
                       f"but img_size={self.img_size} gives {num_patches}; resize the input")
    cls_token = self.param("cls_token", nn.with_logical_partitioning(embed_init,
                                                                     (None, None, "embed")),
                           (1, 1, e))
    pos_embed = self.param("pos_embed", nn.with_logical_partitioning(embed_init,
                                                                     (None, None, "embed")),
                           (1, num_patches + 1, e))
    x = jnp.concatenate([jnp.broadcast_to(cls_token, (n * t, 1, e)).astype(x.dtype), x], 1)
    x = drop(x + pos_embed.astype(x.dtype))  # the token stream stays in the compute dtype

    if self.attention_type != "space_only":
      time_embed = self.param("time_embed", nn.with_logical_partitioning(
          nn.initializers.zeros, (None, None, "embed")), (1, self.num_frames, e))
      x = x.reshape(n, t, num_patches + 1, e)
      # Every frame's class token is cls_token + pos_embed[0] (dropped independently in
      # training); frame 0's stands for the video, as in MMAction2.
      cls_tokens = x[:, 0, :1]
      patches = x[:, :, 1:].transpose(0, 2, 1, 3)  # (N, P, T, E): patch-major
      patches = drop(patches + time_embed[:, None].astype(x.dtype))
      x = jnp.concatenate([cls_tokens, patches.reshape(n, num_patches * t, e)], axis=1)

    layers = self.transformer_layers or default_layers(
        self.attention_type, e, self.num_heads, self.num_frames, self.num_transformer_layers)
    x = build_transformer_layer_sequence(layers, "transformer_layers", self.dtype)(x, train)

    if self.attention_type == "space_only":
      x = x.reshape(n, t, num_patches + 1, e).mean(axis=1)
    x = layer_norm(self.norm_cfg or dict(type="LN", eps=1e-6), "norm", self.dtype)(x)
    return x[:, 0]
