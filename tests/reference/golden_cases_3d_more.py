"""Golden cases for the other 3D recognizers (X3D, C3D, TimeSformer), in make_golden_models.py's
case format. Reference venv only.

Every case runs ``forward_test`` with ``average_clips=None`` (per-view scores). Weights are
redrawn from the seed, never stored: C3D alone is 78 M parameters.
"""


def r3d(backbone, cls_head):
  return dict(type='Recognizer3D', backbone=backbone, cls_head=cls_head, train_cfg=None,
              test_cfg=dict(average_clips=None))


def x3d(head=None, **backbone):
  """configs/_base_/models/x3d.py (X3D-S and X3D-M share it: gamma_w 1, gamma_b 2.25,
  gamma_d 2.2, 432 output channels), 10 classes."""
  bb = dict(type='X3D', gamma_w=1, gamma_b=2.25, gamma_d=2.2)
  bb.update(backbone)
  return r3d(bb, dict(dict(type='X3DHead', in_channels=432, num_classes=10, spatial_type='avg',
                           dropout_ratio=0.5, fc1_bias=False), **(head or {})))


def c3d(**backbone):
  """configs/_base_/models/c3d_sports1m_pretrained.py's model (I3DHead, spatial_type None on
  the 4096 fc7 features), 10 classes."""
  return r3d(dict(dict(type='C3D', pretrained=None, style='pytorch', conv_cfg=dict(type='Conv3d'),
                       norm_cfg=None, act_cfg=dict(type='ReLU'), dropout_ratio=0.5,
                       init_std=0.005), **backbone),
             dict(type='I3DHead', num_classes=10, in_channels=4096, spatial_type=None,
                  dropout_ratio=0.5, init_std=0.01))


def timesformer(attention_type):
  """The timesformer_*_8x32x1 configs' model at 1/12 width: embed 64, 2 heads, 2 layers,
  32x32 frames of 16x16 patches, 4 frames; 10 classes."""
  return r3d(dict(type='TimeSformer', pretrained=None, num_frames=4, img_size=32,
                  patch_size=16, embed_dims=64, num_heads=2, num_transformer_layers=2,
                  in_channels=3, dropout_ratio=0., transformer_layers=None,
                  attention_type=attention_type, norm_cfg=dict(type='LN', eps=1e-6)),
             dict(type='TimeSformerHead', num_classes=10, in_channels=64))


# input_shape (N, views, C, T, H, W).
CASES = [
    # X3D-S geometry (13 frames) at 32x32 and X3D-M's (16 frames) at 64x64; two views each.
    dict(name='x3d_s', model=x3d(), input_shape=(1, 2, 3, 13, 32, 32), store=False,
         forward='test'),
    dict(name='x3d_m', model=x3d(), input_shape=(1, 1, 3, 16, 64, 64), store=False,
         forward='test'),
    # The other arguments: width rounding (gamma_w 1.45: 24 -> 32, X3D-XL's width), SE in
    # every block, three stages with an unstrided last one, fc1 bias, max pooling.
    dict(name='x3d_args',
         model=x3d(dict(in_channels=int(32 * 4 * 2.0), spatial_type='max', fc1_bias=True),
                   gamma_w=1.45, gamma_b=2.0, gamma_d=1.0, num_stages=3,
                   spatial_strides=(2, 2, 1), se_style='all', se_ratio=1 / 8),
         input_shape=(2, 1, 3, 4, 32, 32), store=False, forward='test'),
    # fc6's default 8192 inputs = 512 x 1 x 2 x 8: the smallest clip giving them is 16x32x224
    # (16x112x112 gives 512 x 1 x 4 x 4); H != W also pins fc6's (C, T, H, W) flatten order.
    dict(name='c3d', model=c3d(), input_shape=(1, 1, 3, 16, 32, 224), store=False,
         forward='test'),
    # out_dim set for 16x16x16 clips, BatchNorm convs.
    dict(name='c3d_bn_small', model=c3d(out_dim=512, norm_cfg=dict(type='BN3d')),
         input_shape=(2, 1, 3, 16, 16, 16), store=False, forward='test'),
    dict(name='timesformer_divst', model=timesformer('divided_space_time'),
         input_shape=(2, 1, 3, 4, 32, 32), store=False, forward='test'),
    dict(name='timesformer_jointst', model=timesformer('joint_space_time'),
         input_shape=(2, 1, 3, 4, 32, 32), store=False, forward='test'),
    dict(name='timesformer_spaceonly', model=timesformer('space_only'),
         input_shape=(2, 1, 3, 4, 32, 32), store=False, forward='test'),
]
