"""Build the embedded default training corpus from WordNet 3.0 glosses.

Source: the Debian package `wordnet-base` (apt-get install wordnet-base),
whose data files data.{noun,verb,adj,adv} live in /usr/share/wordnet.

Each synset line ends with a gloss after "| ", e.g.

    close interaction; "they kept in daily contact"; "they claimed ..."- Author

From every gloss we keep
  - the definition (the text before the first double quote), split on ";"
    into one item per clause ("close interaction"),
  - every double-quoted example sentence, without its quotes; text outside
    the quotes (an attribution such as `- Shakespeare`) is dropped.
Examples are matched as quoted spans rather than by splitting on ";" because
about a hundred examples contain a ";" themselves.

Normalisation and splitting: `hf_awd.data.tokenizer.split_words`, the very
normaliser and pre-tokenizer that every saved tokenizer applies (NFKC, lowercase,
PTB-like words: "a dog's tail." -> "a dog 's tail .", "don't" -> "do n't";
words keep inner hyphens, dots, apostrophes and digit-group commas), so raw text
encodes to the words of the corpus.
Items with fewer than 2 tokens or more than --max_words tokens are dropped,
and exact duplicates are removed, keeping the first occurrence in the file
order noun, verb, adj, adv.

Split: the deduplicated sentences are shuffled with random.Random(0); the
first 5% become validation, the next 5% test, the rest train. Duplicates are
removed before splitting, so the splits are disjoint.

Output (gzip with mtime=0, so a rebuild is byte-identical):
    <output_dir>/{train,validation,test}.txt.gz   one sentence per line, UTF-8
    <output_dir>/LICENSE                          WordNet 3.0 licence
    <output_dir>/README.md                        description and statistics

Usage:
    python scripts/build_wordnet_corpus.py [--wordnet_dir DIR] [--output_dir DIR] [--max_words N]
"""

import argparse
import gzip
import random
import re
import sys
from pathlib import Path

from hf_awd.data.tokenizer import split_words

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT_DIR = REPO_ROOT / "hf_awd" / "data" / "wordnet"
DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
COPYRIGHT_FILE = Path("/usr/share/doc/wordnet-base/copyright")
POS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
SPLITS = ("train", "validation", "test")

QUOTED_RE = re.compile(r'"([^"]*)"')


def tokenize(text):
    return " ".join(split_words(text.strip()))


def gloss_items(gloss):
    """Definition clauses and example sentences of one gloss, raw text."""
    definition = gloss.split('"', 1)[0]
    return definition.split(";") + QUOTED_RE.findall(gloss)


def read_glosses(wordnet_dir):
    for name in POS_FILES:
        with open(wordnet_dir / name, encoding="utf-8") as f:
            for line in f:
                # the licence header lines start with spaces; synset lines with an offset
                if line[0].isdigit():
                    yield line.split(" | ", 1)[1].strip()


def build_sentences(wordnet_dir, max_words):
    seen = {}  # dict keeps insertion order: first occurrence wins
    for gloss in read_glosses(wordnet_dir):
        for item in gloss_items(gloss):
            sentence = tokenize(item)
            if 2 <= len(sentence.split()) <= max_words:
                seen.setdefault(sentence, None)
    return list(seen)


def split_sentences(sentences):
    sentences = list(sentences)
    random.Random(0).shuffle(sentences)
    n_heldout = len(sentences) // 20
    return {
        "validation": sentences[:n_heldout],
        "test": sentences[n_heldout:2 * n_heldout],
        "train": sentences[2 * n_heldout:],
    }


def write_gzip(path, lines):
    # mtime=0 and no embedded file name keep the output byte-identical across rebuilds
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write("".join(line + "\n" for line in lines).encode("utf-8"))


def licence_text(copyright_file):
    """The `License: WordNet3.0` paragraph of a Debian copyright file, de-indented."""
    lines = copyright_file.read_text(encoding="utf-8").splitlines()
    start = lines.index("License: WordNet3.0") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        # Debian copyright format: one leading space, " ." stands for an empty line
        body.append("" if line == " ." else line[1:])
    return "\n".join(body) + "\n"


def write_licence(output_dir, copyright_file):
    header = (
        "These files are derived from WordNet 3.0 (Debian package wordnet-base)\n"
        "by scripts/build_wordnet_corpus.py. WordNet 3.0 licence:\n\n"
    )
    (output_dir / "LICENSE").write_text(header + licence_text(copyright_file), encoding="utf-8")


def stats(splits):
    rows = []
    for name in SPLITS:
        n_words = sum(len(s.split()) for s in splits[name])
        rows.append((name, len(splits[name]), n_words / len(splits[name])))
    return rows


def write_readme(output_dir, rows, max_words):
    table = "\n".join(f"| {name} | {n} | {avg:.2f} |" for name, n, avg in rows)
    text = f"""# WordNet 3.0 glosses and examples

Default training corpus of `hf_awd`, shipped inside the package so training
works offline. Each line is one English sentence, a definition clause or an
example sentence from a WordNet 3.0 gloss, normalised and split into words by
the tokenizer's own rules (`hf_awd.data.tokenizer.split_words`: NFKC,
lowercase, PTB-like words and punctuation), words separated by single spaces,
so raw text encodes to the same words. Sentences have 2 to {max_words}
tokens, are deduplicated, and the splits are disjoint (random.Random(0)
shuffle, 90% / 5% / 5%).

| split | sentences | avg words/sentence |
|---|---|---|
{table}

Load with `datasets.load_dataset("text", data_files=hf_awd.data.corpus.embedded_corpus_files())`.

Licence: WordNet 3.0 licence, see `LICENSE`.

## Rebuild

```
apt-get install wordnet-base
python scripts/build_wordnet_corpus.py
```

The build is deterministic: rebuilding gives byte-identical files.
See the docstring of `scripts/build_wordnet_corpus.py` for the details.
"""
    (output_dir / "README.md").write_text(text, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wordnet_dir", type=Path, default=DEFAULT_WORDNET_DIR)
    parser.add_argument("--copyright_file", type=Path, default=COPYRIGHT_FILE)
    parser.add_argument("--output_dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--max_words", type=int, default=40)
    args = parser.parse_args()

    missing = [p for p in [args.copyright_file, *(args.wordnet_dir / n for n in POS_FILES)] if not p.is_file()]
    if missing:
        sys.exit(f"missing {', '.join(map(str, missing))}; install WordNet with: apt-get install wordnet-base")

    splits = split_sentences(build_sentences(args.wordnet_dir, args.max_words))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        write_gzip(args.output_dir / f"{name}.txt.gz", splits[name])
    write_licence(args.output_dir, args.copyright_file)
    rows = stats(splits)
    write_readme(args.output_dir, rows, args.max_words)

    for name, n, avg in rows:
        print(f"{name:>10}: {n:7d} sentences, {avg:.2f} words/sentence")
    print(f"wrote {args.output_dir}")


if __name__ == "__main__":
    main()
