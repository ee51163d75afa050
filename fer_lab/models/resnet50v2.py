"""resnet50v2: ResNet50V2 (ImageNet) backbone: 190 layers with BatchNorm; tf preprocessing (scale to [-1, 1])."""

import keras

from fer_lab.models.backbones import register_application

register_application(
    "resnet50v2",
    keras.applications.ResNet50V2,
    preprocessing="tf",
    weights_file="resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
)
