"""`python -m segcam_cli ...`: the same as `segcam ...`."""

from segcam_cli.main import main

main()
