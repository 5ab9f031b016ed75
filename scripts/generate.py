"""Decode sentences with a trained sequence VAE: prior samples, reconstructions, posterior exploration.

    python scripts/generate.py outputs/sequence-vae sample --num_samples 10           # z ~ N(0, I), greedy
    python scripts/generate.py outputs/sequence-vae sample --do_sample --top_p 0.9    # sampled words
    python scripts/generate.py outputs/sequence-vae reconstruct "a small dog ran ." "the cat sat ."
    python scripts/generate.py outputs/sequence-vae explore "a small dog ran ." --num_samples 5   # z ~ q(z|x)

Decoding options (`--num_beams`, `--do_sample`, `--temperature`, `--top_k`, `--top_p`, `--max_new_tokens`) go to
`model.generate`; unset ones keep the checkpoint's generation config (greedy, at most 50 new tokens, no `<unk>`).
Empty or all-`<unk>` decodes get a warning on stderr.
"""

import argparse
import sys

import torch
from transformers import set_seed

from hf_awd.cli import load_checkpoint_or_exit, positive_int, warn_if_degenerate

DECODING_OPTIONS = ("num_beams", "do_sample", "temperature", "top_k", "top_p", "max_new_tokens")


def parse_arguments(argv):
    options = argparse.ArgumentParser(add_help=False)  # shared by the three modes, so they follow the mode
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--num_beams", type=positive_int)
    options.add_argument("--do_sample", action="store_true", default=None, help="sample words instead of greedy")
    options.add_argument("--temperature", type=float)
    options.add_argument("--top_k", type=int)
    options.add_argument("--top_p", type=float)
    options.add_argument("--max_new_tokens", type=positive_int)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="checkpoint folder (scripts/train.py --output_dir) or Hub id")
    modes = parser.add_subparsers(dest="mode", required=True)
    sample = modes.add_parser("sample", parents=[options], help="decode codes drawn from the prior N(0, I)")
    sample.add_argument("--num_samples", type=positive_int, default=10)
    reconstruct = modes.add_parser("reconstruct", parents=[options], help="decode the posterior mean of each text")
    reconstruct.add_argument("texts", nargs="+")
    explore = modes.add_parser("explore", parents=[options], help="decode samples of q(z|text) (paper's Table 9)")
    explore.add_argument("text")
    explore.add_argument("--num_samples", type=positive_int, default=5)
    return parser.parse_args(argv)


def decode(model, tokenizer, args, options) -> tuple[list[str], list[str]]:
    """The decoded sentences of the chosen mode, and the lines to print."""
    if args.mode == "sample":
        z = torch.randn(args.num_samples, model.config.latent_size)
        sentences = model.decode_latents(z, tokenizer, **options)
        return sentences, [f"z ~ N(0, I): {sentence}" for sentence in sentences]
    if args.mode == "reconstruct":
        sentences = model.reconstruct(args.texts, tokenizer, **options)
        return sentences, [f"x: {text}\n   -> {sentence}" for text, sentence in zip(args.texts, sentences)]
    sentences = model.explore(args.text, tokenizer, n=args.num_samples, **options)
    return sentences, [f"x: {args.text}"] + [f"z ~ q(z|x): {sentence}" for sentence in sentences]


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    set_seed(args.seed)
    model, tokenizer = load_checkpoint_or_exit(args.checkpoint)
    options = {name: getattr(args, name) for name in DECODING_OPTIONS if getattr(args, name) is not None}
    try:
        sentences, lines = decode(model, tokenizer, args, options)
    except ValueError as error:  # empty texts, invalid decoding options
        raise SystemExit(f"error: {error}") from None
    print("\n".join(lines))
    warn_if_degenerate(sentences)


if __name__ == "__main__":
    main()
