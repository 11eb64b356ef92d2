from otter.test_files import test_case

OK_FORMAT = False

name = "q7_scratch_results"
points = None

@test_case(points=1, hidden=False)
def test_q7_saved(env):
    import lab5_checks as checks
    checks.check_saved_run(env, 'scratch')

