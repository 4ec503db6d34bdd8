"""Golden cases for the ResNet3d family (I3D, SlowOnly, SlowFast, CSN, R(2+1)D, ResNet3dLayer),
in make_golden_models.py's case format. Reference venv only.

Every case runs ``forward_test`` with ``average_clips=None`` (per-view scores) and redraws its
weights from the seed (``store=False``). Full size where the model is the point (I3D R50,
SlowFast R50 4x16, R(2+1)D-34); the others keep MMAction2's layout at reduced width so the
redraws and the torch run stay cheap.
"""


def r3d(backbone, head):
  """A Recognizer3D returning per-view scores."""
  return dict(type='Recognizer3D', backbone=backbone, cls_head=head, train_cfg=None,
              test_cfg=dict(average_clips=None))


def i3d_head(in_channels, num_classes=10):
  return dict(type='I3DHead', num_classes=num_classes, in_channels=in_channels,
              spatial_type='avg', dropout_ratio=0.5, init_std=0.01)


# i3d_r50_32x2x1_100e_kinetics400_rgb's backbone (weights from the seed, not torchvision).
I3D_R50 = dict(type='ResNet3d', pretrained2d=True, pretrained=None, depth=50,
               conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
               conv_cfg=dict(type='Conv3d'), norm_eval=False,
               inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)),
               zero_init_residual=False)


def i3d_nl(mode, single=False):
  """The I3D non-local configs' settings (sub-sampled, unscaled, BN3d on conv_out) on an
  I3D R50 at 1/4 width with (1, 2, 2, 1) blocks; non-local after res3 block 1 and res4 block
  0, or (``single``) after res3 block 1 only: dot_product's unnormalised products compound
  to overflow on random weights."""
  return dict(I3D_R50, base_channels=16, stage_blocks=(1, 2, 2, 1),
              inflate=((1,), (1, 0), (1, 0), (0,)),
              non_local=((0,), (0, 1), (0, 0) if single else (1, 0), (0,)),
              non_local_cfg=dict(sub_sample=True, use_scale=False,
                                 norm_cfg=dict(type='BN3d', requires_grad=True), mode=mode))


def slowfast(resample_rate, speed_ratio, slow=None, fast=None, **common):
  """ResNet3dSlowFast as configs/_base_/models/slowfast_r50.py, with overrides."""
  slow_pathway = dict(type='resnet3d', depth=50, pretrained=None, lateral=True,
                      conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1), conv1_stride_t=1,
                      pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False, **common)
  fast_pathway = dict(type='resnet3d', depth=50, pretrained=None, lateral=False,
                      base_channels=8, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
                      pool1_stride_t=1, norm_eval=False, **common)
  return dict(type='ResNet3dSlowFast', pretrained=None, resample_rate=resample_rate,
              speed_ratio=speed_ratio, channel_ratio=8,
              slow_pathway=dict(slow_pathway, **(slow or {})),
              fast_pathway=dict(fast_pathway, **(fast or {})))


def slowfast_head(in_channels, num_classes):
  return dict(type='SlowFastHead', in_channels=in_channels, num_classes=num_classes,
              spatial_type='avg', dropout_ratio=0.5)


def csn(bottleneck_mode, **kw):
  """configs/_base_/models/ircsn_r152.py's backbone as R50 at 1/4 width."""
  return dict(type='ResNet3dCSN', pretrained2d=False, pretrained=None, depth=50,
              base_channels=16, with_pool2=False, bottleneck_mode=bottleneck_mode,
              zero_init_residual=False, **kw)


# configs/_base_/models/r2plus1d_r34.py's backbone, full size.
R2PLUS1D_R34 = dict(type='ResNet2Plus1d', depth=34, pretrained=None, pretrained2d=False,
                    norm_eval=False, conv_cfg=dict(type='Conv2plus1d'),
                    norm_cfg=dict(type='SyncBN', requires_grad=True, eps=1e-3),
                    conv1_kernel=(3, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                    inflate=(1, 1, 1, 1), spatial_strides=(1, 2, 2, 2),
                    temporal_strides=(1, 2, 2, 2), zero_init_residual=False)

CASES = [
    # Full size: i3d_r50_32x2x1's model (400 classes).
    dict(name='i3d_r50', model=r3d(I3D_R50, i3d_head(2048, 400)),
         input_shape=(1, 1, 3, 8, 32, 32), store=False, forward='test'),
    dict(name='i3d_r50_nl_embedded_gaussian',
         model=r3d(i3d_nl('embedded_gaussian'), i3d_head(512)),
         input_shape=(1, 1, 3, 16, 64, 64), store=False, forward='test'),
    dict(name='i3d_r50_nl_dot_product', model=r3d(i3d_nl('dot_product', single=True),
                                                  i3d_head(512)),
         input_shape=(1, 1, 3, 16, 64, 64), store=False, forward='test'),
    dict(name='i3d_r50_nl_gaussian', model=r3d(i3d_nl('gaussian'), i3d_head(512)),
         input_shape=(1, 1, 3, 16, 64, 64), store=False, forward='test'),
    # Every other ResNet3d argument on small bottleneck / basic-block nets: caffe style,
    # 3x3x3 inflation, dilation, temporal strides, no pool1.
    dict(name='resnet3d_r50_caffe_3x3x3',
         model=r3d(dict(type='ResNet3d', pretrained=None, depth=50, base_channels=8,
                        stage_blocks=(2, 1, 1, 1), style='caffe', inflate_style='3x3x3',
                        inflate=((1, 0), 1, 0, 1), spatial_strides=(1, 2, 1, 1),
                        temporal_strides=(1, 1, 2, 1), dilations=(1, 1, 2, 2),
                        with_pool1=False, conv1_kernel=(3, 5, 5), conv1_stride_s=1),
                   i3d_head(256)),
         input_shape=(2, 1, 3, 8, 16, 16), store=False, forward='test'),
    dict(name='resnet3d_r18', model=r3d(dict(type='ResNet3d', pretrained=None, depth=18,
                                             base_channels=16, inflate=(1, (0, 1), 0, 1)),
                                        i3d_head(128)),
         input_shape=(1, 2, 3, 8, 32, 32), store=False, forward='test'),
    # slowonly_r50_4x16x1's backbone at 1/4 width.
    dict(name='slowonly_r50_4x16',
         model=r3d(dict(type='ResNet3dSlowOnly', depth=50, pretrained=None, lateral=False,
                        base_channels=16, conv1_kernel=(1, 7, 7), conv1_stride_t=1,
                        pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False),
                   i3d_head(512)),
         input_shape=(1, 1, 3, 4, 64, 64), store=False, forward='test'),
    # Full size: slowfast_r50_4x16x1's model (400 classes).
    dict(name='slowfast_r50_4x16', model=r3d(slowfast(8, 8), slowfast_head(2304, 400)),
         input_shape=(1, 1, 3, 32, 32, 32), store=False, forward='test'),
    # slowfast_r50_8x8x1 (tau 4, alpha 4, fusion kernel 7) at 1/4 width, with BN + ReLU on
    # the laterals (lateral_norm).
    dict(name='slowfast_r50_8x8_lateral_norm',
         model=r3d(slowfast(4, 4, slow=dict(base_channels=16, fusion_kernel=7, lateral_norm=True),
                            fast=dict(base_channels=2)),
                   slowfast_head(512 + 64, 10)),
         input_shape=(1, 1, 3, 32, 32, 32), store=False, forward='test'),
    dict(name='ircsn_r50_bnfrozen', model=r3d(csn('ir', norm_eval=True, bn_frozen=True),
                                              i3d_head(512)),
         input_shape=(1, 1, 3, 8, 32, 32), store=False, forward='test'),
    dict(name='ipcsn_r50', model=r3d(csn('ip', norm_eval=False), i3d_head(512)),
         input_shape=(1, 1, 3, 8, 32, 32), store=False, forward='test'),
    # Full size: r2plus1d_r34_8x8x1's model (400 classes).
    dict(name='r2plus1d_r34', model=r3d(R2PLUS1D_R34, i3d_head(512, 400)),
         input_shape=(1, 1, 3, 8, 32, 32), store=False, forward='test'),
    # ResNet3dLayer as a backbone: res3 of an R18 on a 64-channel input.
    dict(name='resnet3d_layer_r18',
         model=r3d(dict(type='ResNet3dLayer', depth=18, pretrained=None, stage=1,
                        spatial_stride=2, temporal_stride=2, inflate=(1, 0)),
                   i3d_head(128)),
         input_shape=(1, 1, 64, 4, 16, 16), store=False, forward='test'),
]
