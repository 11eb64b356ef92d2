from otter.test_files import test_case

OK_FORMAT = False

name = "q7_scratch_results"
points = None

@test_case(points=1, hidden=False)
def test_q7_saved(env):
    import lab5_utils as lab
    lab.checked_run(lab.load_results('scratch'), 'scratch')
    acc_scratch = lab.require(env, 'acc_scratch')
    assert 0 <= float(acc_scratch) <= 1, f'acc_scratch = {acc_scratch!r} is not an accuracy between 0 and 1.'

