from otter.test_files import test_case

OK_FORMAT = False

name = "q5_results"
points = None

@test_case(points=1, hidden=False)
def test_q5_saved(env):
    import lab5_utils as lab
    lab.checked_run(lab.load_results('ft'), 'ft')
    acc_ft = lab.require(env, 'acc_ft')
    assert 0 <= float(acc_ft) <= 1, f'acc_ft = {acc_ft!r} is not an accuracy between 0 and 1.'

