"""Backbones, registered under their MMAction2 type names."""

from vjax.models.backbones.mobilenet_v2 import MobileNetV2, MobileNetV2TSM
from vjax.models.backbones.resnet import ResNet
from vjax.models.backbones.resnet2plus1d import ResNet2Plus1d
from vjax.models.backbones.resnet3d import ResNet3d, ResNet3dLayer
from vjax.models.backbones.resnet3d_csn import ResNet3dCSN
from vjax.models.backbones.resnet3d_slowfast import ResNet3dSlowFast
from vjax.models.backbones.resnet3d_slowonly import ResNet3dSlowOnly
from vjax.models.backbones.resnet_audio import ResNetAudio
from vjax.models.backbones.resnet_tin import ResNetTIN
from vjax.models.backbones.resnet_tsm import ResNetTSM
from vjax.models.backbones.tanet import TANet
from vjax.models.backbones.c3d import C3D
from vjax.models.backbones.timesformer import TimeSformer
from vjax.models.backbones.x3d import X3D
from vjax.models.backbones.densenet import DenseNet
from vjax.models.backbones.resnext import ResNeXt
from vjax.models.backbones.swin import SwinTransformer
from vjax.models.backbones.stgcn import STGCN
from vjax.models.backbones.agcn import AGCN
from vjax.models.backbones.stgcnpp import STGCNPlusPlus
