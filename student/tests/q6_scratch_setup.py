from otter.test_files import test_case

OK_FORMAT = False

name = "q6_scratch_setup"
points = None

@test_case(points=1, hidden=False)
def test_q6_objects(env):
    import lab5_checks as checks
    model_scratch, trainer_scratch = checks.require(env, 'model_scratch', 'trainer_scratch')
    assert model_scratch.config.num_labels == 3, 'model_scratch must be a sequence-classification model with num_labels=3.'
    assert trainer_scratch.is_a('Trainer'), 'trainer_scratch must be a transformers Trainer.'
    assert trainer_scratch.model is model_scratch, 'trainer_scratch does not train model_scratch: pass model=model_scratch.'
    assert not trainer_scratch.same_as('trainer'), 'trainer_scratch must be a new Trainer, not the fine-tuning one.'

@test_case(points=1, hidden=False)
def test_q6_same_settings(env):
    import lab5_checks as checks
    trainer_scratch, model_scratch, args, tok_train, tok_test = checks.require(env, 'trainer_scratch', 'model_scratch', 'args', 'tok_train', 'tok_test')
    differ = checks.settings_differences(args, trainer_scratch.args)
    assert not differ, f"trainer_scratch's arguments differ from the fine-tuning run's args: {differ}. Copy args and change only output_dir: dataclasses.replace(args, output_dir='lab5-scratch')."
    assert trainer_scratch.args.output_dir != args.output_dir, f"trainer_scratch writes to the fine-tuning run's folder ({checks.shown(args.output_dir)}): give it its own output_dir, e.g. 'lab5-scratch'."
    checks.check_trainer(trainer_scratch, 'trainer_scratch', model_scratch, 'model_scratch', tok_train, tok_test)

