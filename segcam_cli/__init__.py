"""`segcam`: one command for every job (segcam_cli/main.py).

A package of its own, at the top: the only code that may import both `app` and `training`, so
every verb runs in this one process and the import rule (app/ and training/ never import each
other) holds.
"""
