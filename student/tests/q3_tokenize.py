from otter.test_files import test_case

OK_FORMAT = False

name = "q3_tokenize"
points = None

@test_case(points=1, hidden=False)
def test_q3_tokenized(env):
    import lab5_checks as checks
    tok_fn, tok_train, tok_test, train_texts, test_texts = checks.require(env, 'tok_fn', 'tok_train', 'tok_test', 'train_texts', 'test_texts')
    out = tok_fn({'text': ['I love this lab!', 'meh']})
    assert isinstance(out, dict) and 'input_ids' in out, 'tok_fn must return what the tokenizer returns (input_ids, attention_mask).'
    assert len(out['input_ids']) == 2, "tok_fn must tokenize every text of the batch (batch['text'])."
    assert len(tok_train) == len(train_texts), f'tok_train has {len(tok_train)} rows for {len(train_texts)} training tweets.'
    assert len(tok_test) == len(test_texts), f'tok_test has {len(tok_test)} rows for {len(test_texts)} test tweets.'
    assert 'input_ids' in tok_train.column_names, 'tok_train has no input_ids: map tok_fn over train_ds with batched=True.'

@test_case(points=1, hidden=False)
def test_q3_truncation(env):
    import lab5_checks as checks
    from lab5_facts import LONG_TEXT
    tok_fn = checks.require(env, 'tok_fn')
    out = tok_fn({'text': [LONG_TEXT, 'short']})
    n = len(out['input_ids'][0])
    assert n <= 128, f'A {len(LONG_TEXT.split())}-word text gives {n} tokens: tok_fn must truncate (truncation=True, max_length=MAX_LENGTH).'
    assert n == 128, f'A long text is cut at {n} tokens: truncate at max_length=MAX_LENGTH (128).'

