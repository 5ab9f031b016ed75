"""Share a trained sequence VAE on the Hugging Face Hub, with its model card.

    python scripts/push_to_hub.py outputs/sequence-vae me/awd-wordnet
    python scripts/push_to_hub.py outputs/sequence-vae me/awd-wordnet --private \\
        --evaluation_json outputs/sequence-vae/evaluation_test.json

Stages a complete upload folder (default: CHECKPOINT/hub_upload: weights, config, tokenizer, modelling code for
`trust_remote_code`, README.md), then creates the repository and uploads it. Log in first (`hf auth login`) or pass
--token. Offline, the folder is still staged, and the error says how to upload it later.
"""

import argparse
import sys

from huggingface_hub.errors import HfHubHTTPError

from hf_awd.sharing import HubUnreachableError, push_checkpoint


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="folder written by scripts/train.py (or one of its checkpoint-* folders)")
    parser.add_argument("repo_id", help="Hub repository, e.g. me/awd-wordnet")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--evaluation_json", help="figures of scripts/evaluate.py for the card "
                                                  "(default: CHECKPOINT/evaluation_*.json, else the training log)")
    parser.add_argument("--staging_dir", help="where to stage the upload folder (default: CHECKPOINT/hub_upload)")
    parser.add_argument("--token", help="Hub token with write access (default: the logged-in one)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        commit = push_checkpoint(args.checkpoint, args.repo_id, private=args.private, token=args.token,
                                 evaluation_json=args.evaluation_json, staging_dir=args.staging_dir)
    except (FileNotFoundError, ValueError, HubUnreachableError, HfHubHTTPError) as error:
        # Expected failures (no checkpoint, offline, refused by the Hub) are one line, not a traceback.
        raise SystemExit(f"error: {str(error).splitlines()[0]}") from None
    print(f"Pushed to {commit.repo_url}")


if __name__ == "__main__":
    main()
