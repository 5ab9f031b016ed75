"""Evaluate a sequence VAE on a split: -ELBO, KL, MI, active units and, optionally, importance-weighted NLL/PPL.

Token counting (as He et al., 2019): every sentence contributes its words plus `<eos>` as predicted tokens; `<bos>`
is never predicted. PPL = exp(total NLL / total predicted tokens).
"""

import torch
from datasets import DatasetDict
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from ..data import tokenize_splits
from ..model import load_checkpoint
from ..utils import progress_bar
from .metrics import active_units, gaussian_kl, iw_log_likelihood, mutual_information, perplexity


@torch.no_grad()
def iw_log_likelihood_batch(model, input_ids, attention_mask, mean, logvar, num_samples, generator, max_rows=2048):
    """log p(x) of each sentence with `num_samples` importance samples from q(z|x), decoded in chunks of at most
    `max_rows` sequences so memory stays bounded. Returns (B,)."""
    batch_size = input_ids.size(0)
    chunk = max(1, max_rows // batch_size)
    log_px_given_z, samples = [], []
    for start in range(0, num_samples, chunk):
        k = min(chunk, num_samples - start)
        eps = torch.randn(batch_size, k, mean.size(-1), generator=generator, device=mean.device)
        z = mean.unsqueeze(1) + eps * (0.5 * logvar).exp().unsqueeze(1)  # (B, k, D)
        log_px = model.log_likelihood(
            input_ids.repeat_interleave(k, dim=0), attention_mask.repeat_interleave(k, dim=0), z.flatten(0, 1)
        )
        log_px_given_z.append(log_px.view(batch_size, k))
        samples.append(z)
    return iw_log_likelihood(torch.cat(log_px_given_z, dim=1), torch.cat(samples, dim=1), mean, logvar)


@torch.no_grad()
def evaluate_sequence_vae(model, dataloader, iw_samples: int = 0, gather=None, seed: int = 0):
    """Run `model` (in eval mode: no word dropout) over `dataloader` and return the paper's metrics.

    Per sentence: -ELBO = -log p(x|z) + KL with one z ~ q(z|x); with `iw_samples` > 0 also the IW-NLL. `gather`
    (e.g. `accelerator.gather_for_metrics`) collects per-sentence tensors across processes, so MI and AU use the
    aggregate posterior of the whole split. Shows a progress bar with an ETA (`hf_awd.utils.progress_bar`: off under
    `--disable_tqdm`). Returns a dict of floats.
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=model.device).manual_seed(seed)
    gather = gather or (lambda tensor: tensor)
    collected = {key: [] for key in ("mean", "logvar", "reconstruction", "kl", "tokens", "iw_nll")}
    desc = f"Evaluating ({iw_samples} importance samples)" if iw_samples else "Evaluating"
    for batch in progress_bar(dataloader, desc=desc, leave=False):
        input_ids = batch["input_ids"].to(model.device)
        attention_mask = batch["attention_mask"].to(model.device)
        mean, logvar = model.encode(input_ids, attention_mask)
        z = mean + torch.randn(mean.shape, generator=generator, device=mean.device) * (0.5 * logvar).exp()
        per_sentence = {
            "mean": mean,
            "logvar": logvar,
            "reconstruction": -model.log_likelihood(input_ids, attention_mask, z),
            "kl": gaussian_kl(mean, logvar),
            "tokens": attention_mask[:, 1:].sum(dim=1),
        }
        if iw_samples > 0:
            per_sentence["iw_nll"] = -iw_log_likelihood_batch(
                model, input_ids, attention_mask, mean, logvar, iw_samples, generator
            )
        for key, value in per_sentence.items():
            collected[key].append(gather(value).float().cpu())
    model.train(was_training)
    return summarize({key: torch.cat(values) for key, values in collected.items() if values})


def summarize(stats: dict) -> dict:
    """Split-level metrics from per-sentence statistics (see `evaluate_sequence_vae`)."""
    neg_elbo = stats["reconstruction"] + stats["kl"]
    num_tokens = int(stats["tokens"].sum())
    metrics = {
        "neg_elbo": neg_elbo.mean().item(),
        "reconstruction": stats["reconstruction"].mean().item(),
        "kl": stats["kl"].mean().item(),
        "mutual_information": mutual_information(
            stats["mean"].double(), stats["logvar"].double(), generator=torch.Generator().manual_seed(0)
        ).item(),
        "active_units": int(active_units(stats["mean"])),
        "ppl_elbo": perplexity(neg_elbo.sum().item(), num_tokens),
        "num_sentences": len(neg_elbo),
        "num_tokens": num_tokens,
    }
    if "iw_nll" in stats:
        metrics["nll"] = stats["iw_nll"].mean().item()
        metrics["ppl"] = perplexity(stats["iw_nll"].sum().item(), num_tokens)
    return metrics


def evaluate_texts(model, tokenizer, texts, iw_samples: int = 0, batch_size: int = 64, seed: int = 0,
                   max_words: int | None = 100) -> dict:
    """`evaluate_sequence_vae` of `model` on `texts` (a `datasets.Dataset` with a "text" column)."""
    dataset = tokenize_splits(DatasetDict(eval=texts), tokenizer, max_words)["eval"]
    # Batches of similar length: the recurrent decoders also step over padding, and every metric is per sentence
    # or over the whole split, so the order does not matter.
    lengths = [len(ids) for ids in dataset["input_ids"]]
    dataset = dataset.select(sorted(range(len(dataset)), key=lengths.__getitem__))
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer))
    return evaluate_sequence_vae(model, loader, iw_samples=iw_samples, seed=seed)


def evaluate_checkpoint(checkpoint: str, texts, iw_samples: int = 500, batch_size: int = 64, seed: int = 0,
                        max_words: int | None = 100) -> dict:
    """`evaluate_texts` of a saved model (folder or Hub id, `load_checkpoint`), on a GPU when one is available."""
    model, tokenizer = load_checkpoint(checkpoint)
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    return evaluate_texts(model, tokenizer, texts, iw_samples, batch_size, seed, max_words)
