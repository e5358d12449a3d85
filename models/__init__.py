"""The model-bundle contract shared by training and the app, and the engines that run bundles.

Nothing here imports TensorFlow, `training` or `app`: both sides import this package, never the
other way round (tests/test_import_direction.py checks it).
"""
