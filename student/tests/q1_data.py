from otter.test_files import test_case

OK_FORMAT = False

name = "q1_data"
points = None

@test_case(points=1, hidden=False)
def test_q1_sizes(env):
    import lab5_checks as checks
    import lab5_utils as lab
    profile = lab.get_profile()
    train_texts, train_labels, test_texts, test_labels, num_labels = checks.require(env, 'train_texts', 'train_labels', 'test_texts', 'test_labels', 'num_labels')
    for name, texts, labels, size in (('train', train_texts, train_labels, profile.train_size), ('test', test_texts, test_labels, profile.test_size)):
        assert len(texts) == size, f'{name}_texts holds {len(texts)} tweets; expected {size} (the first {size} rows of the shuffled {name} split).'
        assert len(labels) == len(texts), f'{name}_labels holds {len(labels)} labels for {len(texts)} tweets: one label per tweet.'
        assert all((isinstance(t, str) for t in texts)), f'{name}_texts must hold the tweets themselves (strings).'
        assert {int(y) for y in labels} <= {0, 1, 2}, f'{name}_labels must hold class ids 0, 1, 2 (negative, neutral, positive).'
    assert num_labels == 3, f'num_labels is {checks.shown(num_labels)}; TweetEval sentiment has 3 classes.'

