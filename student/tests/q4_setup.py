from otter.test_files import test_case

OK_FORMAT = False

name = "q4_setup"
points = None

@test_case(points=1, hidden=False)
def test_q4_objects(env):
    import lab5_checks as checks
    model_ft, args, compute_metrics, trainer = checks.require(env, 'model_ft', 'args', 'compute_metrics', 'trainer')
    assert model_ft.config.num_labels == 3, 'model_ft must be a sequence-classification model with num_labels=3.'
    assert args.is_a('TrainingArguments'), 'args must be a TrainingArguments.'
    assert trainer.is_a('Trainer'), 'trainer must be a transformers Trainer.'
    out = compute_metrics(predictions=[[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]], label_ids=[0, 1])
    assert isinstance(out, dict) and 'accuracy' in out, "compute_metrics must return a dict with the key 'accuracy'."

