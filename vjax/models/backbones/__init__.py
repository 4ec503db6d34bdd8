"""Backbones, registered under their MMAction2 type names."""

from vjax.models.backbones.resnet import ResNet
from vjax.models.backbones.resnet3d import ResNet3d
from vjax.models.backbones.resnet3d_slowfast import ResNet3dSlowFast
