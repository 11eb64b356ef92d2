from otter.test_files import test_case

OK_FORMAT = False

name = "q8_quiz"
points = None

@test_case(points=0, hidden=False)
def test_q8_format(env):
    import lab5_checks as checks
    for name in ('quiz_q1', 'quiz_q2', 'quiz_q3'):
        answer = checks.require(env, name)
        assert isinstance(answer, str) and answer.strip().lower() in {'blue', 'orange', 'green'}, f"{name} = {checks.shown(answer)}: answer with one of the strings 'blue', 'orange', 'green'."

