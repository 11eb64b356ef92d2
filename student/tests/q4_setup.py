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

@test_case(points=1, hidden=False)
def test_q4_args(env):
    import lab5_checks as checks
    checks.check_arguments(checks.require(env, 'args'), 'args')

@test_case(points=0.5, hidden=False)
def test_q4_compute_metrics(env):
    import lab5_checks as checks
    compute_metrics = checks.require(env, 'compute_metrics')
    out = compute_metrics(predictions=[[2.0, -1.0, -1.0]] * 7 + [[-1.0, -1.0, 2.0]], label_ids=[0, 0, 0, 0, 0, 1, 2, 2])
    got = float(out['accuracy'])
    assert abs(got - 0.75) < 1e-06, f'compute_metrics gives accuracy {got:.3f} where 6 of 8 predictions are right (0.750): return the share of argmax(logits) that equal the labels.'

@test_case(points=0.5, hidden=False)
def test_q4_trainer(env):
    import lab5_checks as checks
    trainer, model_ft, args, tok_train, tok_test = checks.require(env, 'trainer', 'model_ft', 'args', 'tok_train', 'tok_test')
    assert trainer.args is args, 'trainer does not use args: pass args=args.'
    checks.check_trainer(trainer, 'trainer', model_ft, 'model_ft', tok_train, tok_test)

