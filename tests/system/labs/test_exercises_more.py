"""The exercises of labs 07, 09 and 10: their gaps filled as a student would, and typical wrong answers.

test_exercises.py proves every exercise both ways (untouched fails every part, the
solution passes every part, FILLED passes, nothing left); it takes these labs' filled
answers from FILLED_MORE. The wrong answers here must fail exactly the part meant to
catch them.
"""

from __future__ import annotations

import pytest

# The gaps of each exercise.py filled in as their comments and hints say, in gap order.
FILLED_MORE = {
    "07": [
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:\n"
        "    raise OSError(ctypes.get_errno(), 'prctl')",
        "code = os.waitstatus_to_exitcode(wait_status)\nreturn 128 - code if code < 0 else code",
        "status = None\nwhile True:\n    try:\n        child, wait_status = os.wait()\n"
        "    except ChildProcessError:\n        return status\n    if child == pid:\n        status = wait_status",
    ],
    "09": [
        "return {'terminal': False, 'user': {'uid': 0, 'gid': 0}, 'args': args, 'env': [PATH, *env], 'cwd': cwd}",
        "return [{'type': kind} for kind in ('pid', 'network', 'ipc', 'uts', 'mount')]",
        "return [\n"
        "    {'destination': '/proc', 'type': 'proc', 'source': 'proc'},\n"
        "    {'destination': '/dev', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['nosuid', 'mode=755']},\n"
        "    {'destination': '/sys', 'type': 'sysfs', 'source': 'sysfs',\n"
        "     'options': ['nosuid', 'noexec', 'nodev', 'ro']},\n"
        "]",
    ],
    "10": [
        "return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0",
        "try:\n    return os.getxattr(path, OPAQUE_XATTR) == b'y'\nexcept OSError:\n    return False",
        "folder, base = os.path.split(name)\nreturn os.path.join(folder, WHITEOUT + base)",
    ],
}

# Typical wrong answers: (lab, gap number, code in that gap, the parts that must fail (only those), why).
WRONG_MORE = [
    ("07", 1, "pass", [3], "no subreaper: the orphan goes up"),
    ("07", 2, "return os.waitstatus_to_exitcode(wait_status)", [2], "-9 instead of 137"),
    ("07", 3, "return os.waitpid(pid, 0)[1]", [3], "only the command waited for"),
    ("09", 2, "return [{'type': kind} for kind in ('pid', 'network', 'ipc', 'mount')]", [1, 2, 3],
     "no UTS namespace: refused before it runs"),
    ("09", 3, "return [{'destination': '/proc', 'type': 'proc', 'source': 'proc'}]", [3], "only /proc mounted"),
    ("09", 1, "return {'terminal': False, 'user': {'uid': 0, 'gid': 0}, 'args': args, 'env': [PATH], 'cwd': cwd}",
     [1], "the given environment left out"),
    ("10", 1, "return False", [1, 2, 3], "whiteouts stored as devices"),
    ("10", 2, "return False", [3], "opaque folders ignored"),
    ("10", 3, "return WHITEOUT + name", [2, 3], "the marker not in the deleted file's folder"),
]


@pytest.mark.parametrize(("number", "gap", "code", "failing", "why"), WRONG_MORE, ids=[w[4] for w in WRONG_MORE])
def test_a_wrong_answer_fails_the_part_meant_to_catch_it(number, gap, code, failing, why, tmp_path):
    from tests.system.labs import test_exercises as proven

    proven.test_a_wrong_answer_fails_the_part_meant_to_catch_it(number, gap, code, failing, why, tmp_path)
