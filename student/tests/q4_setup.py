from otter.test_files import test_case

OK_FORMAT = False

name = "q4_setup"
points = None

@test_case(points=1, hidden=False)
def test_q4_objects(env):
    from transformers import Trainer, TrainingArguments
    import lab5_checks as checks
    model_ft, args, compute_metrics, trainer = checks.require(env, 'model_ft', 'args', 'compute_metrics', 'trainer')
    assert getattr(getattr(model_ft, 'config', None), 'num_labels', None) == 3, 'model_ft must be a sequence-classification model with num_labels=3.'
    assert isinstance(args, TrainingArguments), 'args must be a TrainingArguments.'
    assert isinstance(trainer, Trainer), 'trainer must be a transformers Trainer.'
    import numpy as np
    from transformers import EvalPrediction
    out = compute_metrics(EvalPrediction(predictions=np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0]]), label_ids=np.array([0, 1])))
    assert isinstance(out, dict) and 'accuracy' in out, "compute_metrics must return a dict with the key 'accuracy'."

