"""`segcam predict SOURCE ...`: segment images, folders, globs and clips as fast as the machine
goes (no real-time pipeline: no dropped frames, no pacing), and write per frame the overlay, the
class-id mask (an indexed PNG with the bundle's palette) and optionally the per-class areas.

`inputs.py` turns the SOURCE arguments into images and clip frames, `writers.py` writes the
files, `progress.py` is the progress bar, `command.py` the command.
"""
