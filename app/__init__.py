"""The real-time segmentation app. Never imports TensorFlow."""
