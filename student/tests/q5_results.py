from otter.test_files import test_case

OK_FORMAT = False

name = "q5_results"
points = None

@test_case(points=1, hidden=False)
def test_q5_saved(env):
    import lab5_checks as checks
    checks.check_saved_run(env, 'ft')

