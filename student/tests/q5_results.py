from otter.test_files import test_case

OK_FORMAT = False

name = "q5_results"
points = None

@test_case(points=1, hidden=False)
def test_q5_saved(env):
    import lab5_utils as lab
    results = lab.load_results()
    profile = lab.get_profile()
    assert results.get('profile') == profile.name, f"{lab.RESULTS_FILE} was written in the '{results.get('profile')}' profile but you are grading in '{profile.name}': rerun section 4."
    assert len(results['ft_preds']) == profile.test_size, f"{lab.RESULTS_FILE} holds {len(results['ft_preds'])} predictions; expected one per test tweet ({profile.test_size}): rerun section 4."
    acc_ft = lab.require(env, 'acc_ft')
    assert 0 <= float(acc_ft) <= 1, f'acc_ft = {acc_ft!r} is not an accuracy between 0 and 1.'

