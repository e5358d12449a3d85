"""Keeping native libraries' start-up chatter off a user's terminal, without losing it on a failure
(no library does this: the notes come from C++ code writing to file descriptor 2)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet_native_stderr():
    """Native libraries' notes written straight to fd 2 (TensorFlow's at import: oneDNN, "Could
    not find cuda drivers", which ignore TF_CPP_MIN_LOG_LEVEL; LiteRT's "Created TensorFlow Lite
    XNNPACK delegate") go to a file instead, shown only when the block fails. For short blocks
    before any thread of ours runs: fd 2 is the whole process's."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile() as caught:
        sys.stderr.flush()
        os.dup2(caught.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            caught.seek(0)
            sys.stderr.write(caught.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
