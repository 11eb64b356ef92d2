from otter.test_files import test_case

OK_FORMAT = False

name = "q2_baseline"
points = None

@test_case(points=1, hidden=False)
def test_q2_fitted(env):
    import lab5_checks as checks
    tfidf, bow_clf, bow_preds, acc_bow, test_texts = checks.require(env, 'tfidf', 'bow_clf', 'bow_preds', 'acc_bow', 'test_texts')
    assert hasattr(tfidf, 'vocabulary_'), 'tfidf is not fitted: call tfidf.fit_transform(train_texts).'
    assert hasattr(bow_clf, 'classes_'), 'bow_clf is not fitted: call bow_clf.fit(...) with the training features and labels.'
    assert len(bow_preds) == len(test_texts), f'bow_preds holds {len(bow_preds)} predictions for {len(test_texts)} test tweets: predict the transformed test texts.'
    bow = checks.real(acc_bow)
    assert bow is not None and 0 <= bow <= 1, f'acc_bow = {checks.shown(acc_bow)} is not an accuracy between 0 and 1.'

