"""Backbones, registered under their MMAction2 type names."""

from vjax.models.backbones.mobilenet_v2 import MobileNetV2, MobileNetV2TSM
from vjax.models.backbones.resnet import ResNet
from vjax.models.backbones.resnet3d import ResNet3d
from vjax.models.backbones.resnet3d_slowfast import ResNet3dSlowFast
from vjax.models.backbones.resnet_audio import ResNetAudio
from vjax.models.backbones.resnet_tin import ResNetTIN
from vjax.models.backbones.resnet_tsm import ResNetTSM
from vjax.models.backbones.tanet import TANet
