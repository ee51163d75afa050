"""vgg16: VGG16 (ImageNet) backbone: 19 layers, no BatchNorm; caffe preprocessing (subtract the ImageNet means)."""

import keras

from fer_lab.models.backbones import register_application

register_application(
    "vgg16",
    keras.applications.VGG16,
    preprocessing="caffe",
    weights_file="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
)
