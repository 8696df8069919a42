"""`--validate --deep`: the datasets and checkpoints that specs name, resolved and compared with the specs.

A room of its own above `specs`, `data` and `models`, whose helpers it uses (label checks, `{assets}` expansion,
Whisper's clip positions); nothing below imports it.
"""
