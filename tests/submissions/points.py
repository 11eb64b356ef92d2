"""What the built autograder gives each question and which test cases are public: the corpus states its
expected scores against these (tools/autograder.py reads them from the zip)."""

from __future__ import annotations

from tools.autograder import Autograder
from tools.project import AUTOGRADER_ZIP

_built = Autograder(AUTOGRADER_ZIP)
# Each autograded question's points (the written question is graded by hand).
POINTS = {question: sum(cases.values()) for question, cases in _built.points().items()}
ALL_ZERO = {question: 0 for question in POINTS}
# The public test cases (the ones students get, and the training cells run first), with their question.
PUBLIC_CASES = {case.name: f.name for f in _built.test_files() for case in f.test_cases if not case.hidden}
