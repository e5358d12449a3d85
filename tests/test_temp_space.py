"""The report of a test that failed on a full disk names the temp folder and the space needed."""

from __future__ import annotations


def test_a_failure_on_a_full_disk_says_the_temp_folder_is_full(pytester):
    pytester.makepyfile("""
        import errno

        def test_writes():
            raise OSError(errno.ENOSPC, "No space left on device")

        def test_other_failure():
            assert 1 == 2
    """)
    result = pytester.runpytest("-p", "temp_space")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert text.count("temp folder full") == 1, text
    result.stdout.fnmatch_lines(["*MB free of * MB: this failure may be the full disk; the suite "
                                 "needs 1.5 GB there (set TMPDIR to a larger folder)*"])
