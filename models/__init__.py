"""The model-bundle contract shared by training and the app.

Importing this package never imports TensorFlow; only `models.convert` does.
"""
