"""Training: data sets, loaders, augmentation, Unet building, training and evaluation."""
