"""Generation for the sequence VAE: decode latent codes with `GenerationMixin`, and the paper's uses of it.

`SequenceVAEGenerationMixin.generate` conditions transformers' own decoding loop (greedy, sampling, beam search,
logits processors, stopping criteria, streamers) on a latent code z, passed to every forward step as a model
kwarg; on top of it, `reconstruct` (decode posterior means), `interpolate` (Table 3 / Figure 4 of the AWD paper:
decode points on the line between two posterior means) and `explore` (Table 9: decode posterior samples).

The decoder state is a recurrent (h, c) pair for the LSTM decoders and a key/value cache (a flat tuple of tensors)
for the Transformer decoder; either way it summarises the whole prefix, so after the first step only the newest token
is fed, and beam search reorders its batch rows with `_reorder_cache`.

This file is copied next to checkpoints for `trust_remote_code`, so it imports only transformers and torch.
"""

from dataclasses import dataclass

import torch
from transformers import GenerationMixin
from transformers.utils import ModelOutput

# transformers' own default (max_length=20, prompt included) would cut longer sentences.
DEFAULT_MAX_NEW_TOKENS = 50


@dataclass
class PosteriorOutput(ModelOutput):
    r"""
    q(z|x) of a batch of texts (`output.mean`, `output["mean"]`, or `output.to_tuple()` for the non-None fields).

    mean, logvar: (B, D) posterior mean and log-variance.
    sample: (B, D) one draw z = mean + exp(logvar / 2) * eps, when requested.
    """

    mean: torch.FloatTensor | None = None
    logvar: torch.FloatTensor | None = None
    sample: torch.FloatTensor | None = None


def _as_text_list(texts, name: str) -> list[str]:
    """A text or list of texts -> list, rejecting empty/whitespace-only entries with their index."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError(f"{name}: got no text")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name}: text at index {index} is empty or whitespace-only: {text!r}")
    return texts


def _as_batch(ids) -> torch.Tensor | None:
    """Prompt ids or mask as a (B, L) tensor: tokenizers return lists, and (L,) for a single text."""
    if ids is None:
        return None
    ids = torch.as_tensor(ids)
    return ids.unsqueeze(0) if ids.dim() == 1 else ids


class SequenceVAEGenerationMixin(GenerationMixin):
    """`generate` conditioned on latent codes, plus `encode_texts`, `reconstruct`, `interpolate` and `explore`.

    Needs the model's `encode`, `config.latent_size` and a forward that accepts `z=` and `cache=`.
    """

    # ---- hooks of GenerationMixin / PreTrainedModel ----

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The state is a tuple of tensors built by forward; a DynamicCache would be passed in instead.
        return False

    def post_init(self):
        super().post_init()
        self._set_generation_defaults()

    def adjust_generation_fn(self, *args, **kwargs):
        # from_pretrained replaces the generation config with the checkpoint's, which may predate these defaults.
        super().adjust_generation_fn(*args, **kwargs)
        self._set_generation_defaults()

    def _set_generation_defaults(self):
        """bos/eos/pad come from the model config (`GenerationConfig.from_model_config`); add a sentence length, and
        never decode `<unk>`: it stands for every rare word at once, so it is the likeliest "word" of a small model and
        greedy decoding loops on it ("a <unk> of the <unk> of ..."). `suppress_tokens=[]` lets it through."""
        if self.generation_config.max_new_tokens is None:
            self.generation_config.max_new_tokens = DEFAULT_MAX_NEW_TOKENS
        if self.generation_config.suppress_tokens is None and self.config.unk_token_id is not None:
            self.generation_config.suppress_tokens = [self.config.unk_token_id]

    def save_pretrained(self, save_directory, *args, **kwargs):
        # register_for_auto_class maps a single Auto class (AutoModel); pipeline("text-generation", path,
        # trust_remote_code=True) looks up AutoModelForCausalLM in config.auto_map.
        if self.is_remote_code():
            name = f"{type(self).__module__.rsplit('.', 1)[-1]}.{type(self).__name__}"
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), "AutoModelForCausalLM": name}
        return super().save_pretrained(save_directory, *args, **kwargs)

    def prepare_inputs_for_generation(self, input_ids, cache=None, z=None, use_cache=True, **kwargs):
        """The first step decodes the whole prompt from z; later steps feed only the newest token to the state.
        With `use_cache=False` every step decodes the whole sequence again from z."""
        if z is None:
            raise ValueError(f"{type(self).__name__} decodes from a latent code: call generate(), which supplies z")
        if not use_cache:
            cache = None
        if cache is not None:
            input_ids = input_ids[:, -1:]
        return {"input_ids": input_ids, "z": z, "cache": cache}

    def _reorder_cache(self, cache, beam_idx: torch.LongTensor):
        """Beam search: keep the rows of the surviving beams. cache: tuple of (B * beams, ...) tensors."""
        return tuple(state.index_select(0, beam_idx.to(state.device)) for state in cache)

    # ---- generation ----

    @torch.no_grad()
    def generate(self, inputs=None, z=None, num_samples=None, generation_config=None, **kwargs):
        r"""
        `GenerationMixin.generate` conditioned on latent codes: every decoding strategy and option of transformers
        works (`do_sample`, `temperature`, `top_k`, `top_p`, `num_beams`, `num_return_sequences`, `max_new_tokens`,
        ...); decoding stops at `<eos>`.

        Args:
            inputs: optional prompt ids (B, L) or (L,), a tensor or lists (also accepted as `input_ids=`, so
                `generate(**tokenizer("the dog"))` works), unpadded; `<bos>` is prepended when missing. Default:
                `<bos>`.
                A trailing `<eos>` (older saved tokenizers add one) ends the prompt: it is not decoded from, and its
                position holds `<pad>` in the output, so that the prompt keeps its length.
            z: latent codes (B, D). Default: draws from the prior N(0, I), one per prompt or `num_samples` of them.
            num_samples: how many prior samples to decode when `z` is None (default: the prompt batch size, or 1).

        Returns:
            (B * num_return_sequences, L + new) token ids that start with the given prompt (`<bos>` by default), as
            `GenerationMixin.generate`; with `return_dict_in_generate=True`, its output object holding them in
            `sequences`. `num_return_sequences` decodes each z several times; `num_samples` draws different codes.
        """
        given = _as_batch(inputs if inputs is not None else kwargs.pop("input_ids", None))
        self._check_prompt(given, _as_batch(kwargs.pop("attention_mask", None)))
        z = self._latents_for(z, num_samples, 1 if given is None else given.shape[0])
        prompt = self._normalise_prompt(given, z.shape[0])
        output = super().generate(prompt, generation_config=generation_config, z=z, **kwargs)
        if given is None:
            return output
        # Give back the caller's prompt, so that slicing at its length (as pipelines do) finds the new tokens; a
        # trailing <eos> becomes <pad> there, so that decoded text does not read "the dog <eos> ran".
        sequences = output if isinstance(output, torch.Tensor) else output.sequences
        copies = sequences.shape[0] // given.shape[0]
        prefix = given.to(sequences.device).repeat_interleave(copies, dim=0)
        if self._ends_with_eos(prefix):
            prefix[:, -1] = self.config.pad_token_id
        sequences = torch.cat([prefix, sequences[:, prompt.shape[1]:]], dim=1)
        if isinstance(output, torch.Tensor):
            return sequences
        output.sequences = sequences
        return output

    def _check_prompt(self, input_ids, attention_mask):
        # The decoder runs over every prompt position, padding included, so padded prompts would change the state.
        padded = attention_mask is not None and not bool(attention_mask.bool().all())
        if input_ids is not None and (padded or bool((input_ids == self.config.pad_token_id).any())):
            raise ValueError("generate() takes unpadded prompts only; generate prompts of different lengths separately")

    def _latents_for(self, z, num_samples, prompt_batch: int) -> torch.Tensor:
        """The codes to decode, (B, D), checked against the prompt batch (1 prompt is shared by all codes)."""
        latent_size = self.config.latent_size
        if z is None:
            count = num_samples if num_samples is not None else prompt_batch
            if not isinstance(count, int) or count < 1:
                raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
            z = torch.randn(count, latent_size, device=self.device, dtype=self.dtype)
        elif num_samples is not None:
            raise ValueError("pass either z or num_samples, not both")
        z = torch.as_tensor(z, device=self.device, dtype=self.dtype)
        if z.dim() != 2 or z.shape[1] != latent_size:
            raise ValueError(f"z must have shape (batch, {latent_size}), got {tuple(z.shape)}")
        if prompt_batch not in (1, z.shape[0]):
            raise ValueError(f"{prompt_batch} prompts for {z.shape[0]} latent codes; give 1 prompt or one per code")
        return z

    def _normalise_prompt(self, input_ids, batch_size: int) -> torch.LongTensor:
        """(B, L') prompt in the training layout: starts with `<bos>`, no trailing `<eos>`."""
        bos = self.config.bos_token_id
        if input_ids is None:
            return torch.full((batch_size, 1), bos, dtype=torch.long, device=self.device)
        input_ids = input_ids.to(self.device)
        if self._ends_with_eos(input_ids):
            input_ids = input_ids[:, :-1]
        if input_ids.shape[1] == 0 or not bool((input_ids[:, 0] == bos).all()):
            input_ids = torch.cat([input_ids.new_full((input_ids.shape[0], 1), bos), input_ids], dim=1)
        return input_ids.expand(batch_size, -1).contiguous()

    def _ends_with_eos(self, input_ids: torch.LongTensor) -> bool:
        return input_ids.shape[1] > 1 and bool((input_ids[:, -1] == self.config.eos_token_id).all())

    # ---- the paper's uses of the latent space ----

    @torch.no_grad()
    def encode_texts(self, texts, tokenizer, sample: bool = False) -> PosteriorOutput:
        """q(z|x) of texts (a string or a list) tokenised as `<bos> words <eos>`: mean, logvar (B, D) and, with
        `sample=True`, one draw z (B, D). Empty or whitespace-only text -> ValueError naming its index."""
        texts = _as_text_list(texts, "encode_texts")
        # strip(): a period before trailing whitespace would read as an abbreviation's ("park. " -> "park.")
        words = tokenizer([text.strip() for text in texts], add_special_tokens=False)["input_ids"]
        sequences = [[self.config.bos_token_id, *ids, self.config.eos_token_id] for ids in words]
        input_ids = torch.full((len(sequences), max(map(len, sequences))), self.config.pad_token_id, dtype=torch.long)
        for row, ids in enumerate(sequences):
            input_ids[row, : len(ids)] = torch.tensor(ids)
        input_ids = input_ids.to(self.device)
        mean, logvar = self.encode(input_ids, input_ids.ne(self.config.pad_token_id).long())
        draw = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if sample else None
        return PosteriorOutput(mean=mean, logvar=logvar, sample=draw)

    def decode_latents(self, z: torch.Tensor, tokenizer, **generate_kwargs) -> list[str]:
        """Sentences decoded from codes z (B, D), greedy unless `generate_kwargs` say otherwise."""
        generate_kwargs = {"do_sample": False, "num_beams": 1, **generate_kwargs}
        sequences = self.generate(z=z, **generate_kwargs)
        if not isinstance(sequences, torch.Tensor):
            sequences = sequences.sequences
        # Drop <bos>, <eos> and padding but keep <unk> (decoded only when suppress_tokens lets it through):
        # skip_special_tokens would also delete every <unk>, turning "a <unk> of the <unk>" into "a of the".
        # strip(): the tokenizer puts a space before the first word, as for a continuation.
        structural = {self.config.bos_token_id, self.config.eos_token_id, self.config.pad_token_id}
        return [tokenizer.decode([i for i in row.tolist() if i not in structural]).strip() for row in sequences[:, 1:]]

    def reconstruct(self, texts, tokenizer, **generate_kwargs) -> list[str]:
        """Decode the posterior mean of each text (greedy by default): one sentence per text."""
        return self.decode_latents(self.encode_texts(texts, tokenizer).mean, tokenizer, **generate_kwargs)

    def interpolate(self, source, target, tokenizer, num_steps: int = 3, include_endpoints: bool = False,
                    **generate_kwargs):
        """Sentences decoded (greedy by default) along the line between the posterior means of source and target.

        The path is z_j = (1 - t_j) * mean(source) + t_j * mean(target) with t_j = j / (num_steps + 1),
        j = 1 ... num_steps: the `num_steps` interior points, in order from source to target, as the intermediate
        sentences of the paper's Table 3 and Figure 4(b) (which show the original texts at the ends). With
        `include_endpoints=True` the decoded means themselves (t = 0 and t = 1) are added at both ends.

        `source` and `target` are texts, or equally long lists of texts (one path per pair). Returns the path
        (list[str]) for texts, a list of paths for lists.
        """
        if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 1:
            raise ValueError(f"num_steps must be an integer >= 1, got {num_steps!r}")
        single = isinstance(source, str) and isinstance(target, str)
        sources, targets = _as_text_list(source, "interpolate source"), _as_text_list(target, "interpolate target")
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} source texts but {len(targets)} target texts")
        means = self.encode_texts(sources + targets, tokenizer).mean
        start, end = means[: len(sources)], means[len(sources):]
        first, last = (0, num_steps + 1) if include_endpoints else (1, num_steps)
        weights = torch.arange(first, last + 1, device=means.device, dtype=means.dtype) / (num_steps + 1)
        # (pairs, points, D), flattened pair-major so that each path's points are consecutive.
        path = start[:, None] + weights[None, :, None] * (end - start)[:, None]
        sentences = self.decode_latents(path.flatten(0, 1), tokenizer, **generate_kwargs)
        points = len(weights)
        paths = [sentences[i * points: (i + 1) * points] for i in range(len(sources))]
        return paths[0] if single else paths

    def explore(self, text: str, tokenizer, n: int = 5, **generate_kwargs) -> list[str]:
        """Decode (greedy by default) n samples z ~ q(z|text): what the posterior around one sentence holds."""
        if not isinstance(text, str):
            raise ValueError(f"explore() takes one text (a string), got {type(text).__name__}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        posterior = self.encode_texts(text, tokenizer)
        z = posterior.mean + torch.randn_like(posterior.mean.expand(n, -1)) * (0.5 * posterior.logvar).exp()
        return self.decode_latents(z, tokenizer, **generate_kwargs)
