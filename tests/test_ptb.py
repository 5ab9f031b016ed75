"""PTB from local files (../shared/data/ptb): vocabulary and the standard predicted-token count."""

from hf_awd.data import build_word_tokenizer, load_text_splits, tokenize_splits


def test_ptb_vocabulary_and_predicted_token_count(ptb_dir):
    splits = load_text_splits(train_file=str(ptb_dir / "train.txt"), validation_file=str(ptb_dir / "valid.txt"),
                              test_file=str(ptb_dir / "test.txt"))
    assert [len(splits[name]) for name in ("train", "validation", "test")] == [42068, 3370, 3761]
    tokenizer = build_word_tokenizer(splits["train"]["text"], vocab_size=20000, min_frequency=1)
    # 9,999 word types including the literal <unk>, which maps to our <unk>; plus <pad>, <bos>, <eos>.
    assert len(tokenizer) == 10002 and tokenizer.unk_token_id == 1
    test = tokenize_splits(splits, tokenizer)["test"]
    # Predicted tokens = words + one <eos> per sentence: 78,669 + 3,761 (the figure peers quote).
    assert sum(len(ids) - 1 for ids in test["input_ids"]) == 82430
    assert all(tokenizer.unk_token_id not in ids or "<unk>" in text
               for ids, text in zip(test["input_ids"][:200], splits["test"]["text"][:200]))
