"""Sequence VAE with an LSTM encoder, a Double-LSTM decoder (or a single LSTM, or a causal Transformer) and
adversarial word dropout (Miladinović et al., 2022).

Notation: B = batch, L = padded length of `input_ids` (`<bos> w_1 ... w_n <eos>`, right-padded), T = L - 1 decoder
steps (inputs `<bos> w_1 ... w_n`, targets `w_1 ... w_n <eos>`), V = vocabulary, D = latent size, H = decoder size.
"""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .adversary import AdversarialWordDropout
from .configuration_sequence_vae import SequenceVAEConfig
from .double_lstm import double_lstm
from .generation_sequence_vae import SequenceVAEGenerationMixin


@dataclass
class SequenceVAEOutput(ModelOutput):
    r"""
    loss: scalar, the paper's plain objective: batch mean of -ELBO (reconstruction_nll + kl) plus the adversary's
        regulariser, so a plain `Trainer` trains the right thing. `AWDTrainer` builds its training loss from the terms
        below instead, adding the KL schedule, free bits and the like (`hf_awd.training.objective`).
    reconstruction_nll: (B,) -log p(x|z) summed over the predicted tokens (end of sentence included).
    kl: (B,) KL(q(z|x) || N(0, I)), the sum of `kl_per_dimension` (B, D).
    adversary_regularizer: (B,) lambda * sum_i KL(N(mu_i, sigma_i^2) || N(0, 1)); zeros unless adversarial training.
    logits: (B, T, V) next-token logits.
    drop_mask: (B, T) 1.0 where the decoder input was dropped (always zeros in eval mode).
    adversary_scores, adversary_score_mean, adversary_score_logvar: (B, T) the adversary's sampled scores s_i and the
        mean and log-variance of their Gaussians (adversarial training only).
    posterior_mean, posterior_logvar, latent: (B, D) q(z|x) and the z that was decoded.
    cache: decoder state for step-by-step generation: (h, c), each (B, H), for the LSTM decoders; the key/value
        cache for the Transformer decoder.
    """

    loss: torch.FloatTensor | None = None
    reconstruction_nll: torch.FloatTensor | None = None
    kl: torch.FloatTensor | None = None
    kl_per_dimension: torch.FloatTensor | None = None
    adversary_regularizer: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    drop_mask: torch.FloatTensor | None = None
    adversary_scores: torch.FloatTensor | None = None
    adversary_score_mean: torch.FloatTensor | None = None
    adversary_score_logvar: torch.FloatTensor | None = None
    posterior_mean: torch.FloatTensor | None = None
    posterior_logvar: torch.FloatTensor | None = None
    latent: torch.FloatTensor | None = None
    cache: tuple[torch.FloatTensor, ...] | None = None


def token_log_likelihood(logits: torch.Tensor, targets: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Sum of log p(target_t) over unmasked steps. logits (B, T, V), targets/target_mask (B, T) -> (B,)."""
    # cross_entropy fuses log-softmax and the gather (no second (B, T, V) tensor)
    log_probs = -nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
    log_probs = log_probs.view(targets.shape)
    return (log_probs * target_mask).sum(dim=1)


def with_latent(embeddings: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Every decoder reads z at every step: embeddings (B, T, E), z (B, D) -> [embedding; z] (B, T, E + D)."""
    return torch.cat([embeddings, z.unsqueeze(1).expand(-1, embeddings.size(1), -1)], dim=-1)


class RecurrentDecoder(nn.Module):
    """The LSTM decoders' state starts at h0 = W z (no bias), c0 = 0, as in the authors' code."""

    def initial_state(self, h0: torch.Tensor):
        """(h0, c0 = 0) from the projected latent code h0 (B, H)."""
        return h0, torch.zeros_like(h0)


class DoubleLSTMDecoder(RecurrentDecoder):
    """Appendix A: per step, a first LSTM cell reads z and the previous state, then a second cell reads
    [embedding; z] starting from the first cell's state. Both branches give z a skip connection to the output.

    The cells are `nn.LSTMCell`s for their parameters only: their input projections are computed for all steps at
    once (z is the same at every step, so the first cell's is computed once) and the recurrence runs in
    `double_lstm`, whose backward pass computes the recurrent weights' gradients in bulk."""

    def __init__(self, config: SequenceVAEConfig):
        super().__init__()
        self.predict_cell = nn.LSTMCell(config.latent_size, config.decoder_hidden_size)
        self.update_cell = nn.LSTMCell(config.embedding_size + config.latent_size, config.decoder_hidden_size)

    def forward(self, embeddings: torch.Tensor, z: torch.Tensor, state):
        """embeddings (B, T, E), z (B, D), state (h, c) each (B, H) -> outputs (B, T, H), state."""
        predict, update = self.predict_cell, self.update_cell
        predict_input = nn.functional.linear(z, predict.weight_ih, predict.bias_ih + predict.bias_hh)
        update_inputs = nn.functional.linear(  # time-major (T, B, 4H): each step reads a contiguous slice
            with_latent(embeddings, z).transpose(0, 1), update.weight_ih, update.bias_ih + update.bias_hh
        )
        # Under autocast the projections come out in the lower precision; the recurrence runs in theirs.
        dtype = update_inputs.dtype
        h0, c0 = (s.to(dtype) for s in state)
        outputs, c = double_lstm(
            predict_input, update_inputs, h0, c0, predict.weight_hh.to(dtype), update.weight_hh.to(dtype)
        )
        return outputs.transpose(0, 1), (outputs[-1], c)


class LSTMDecoder(RecurrentDecoder):
    """Ablation: a single LSTM fed [embedding; z] at every step (cuDNN/fused kernels over the whole sequence)."""

    def __init__(self, config: SequenceVAEConfig):
        super().__init__()
        self.lstm = nn.LSTM(config.embedding_size + config.latent_size, config.decoder_hidden_size, batch_first=True)

    def forward(self, embeddings: torch.Tensor, z: torch.Tensor, state):
        """embeddings (B, T, E), z (B, D), state (h, c) each (B, H) -> outputs (B, T, H), state."""
        h0, c0 = (s.unsqueeze(0).contiguous() for s in state)
        outputs, (h, c) = self.lstm(with_latent(embeddings, z), (h0, c0))
        return outputs, (h.squeeze(0), c.squeeze(0))


class CausalSelfAttentionBlock(nn.Module):
    """Pre-LayerNorm Transformer block with causal self-attention that appends its keys/values to a cache."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.attention_norm = nn.LayerNorm(hidden_size)
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.attention_output = nn.Linear(hidden_size, hidden_size)
        self.mlp_norm = nn.LayerNorm(hidden_size)
        self.mlp = nn.Sequential(nn.Linear(hidden_size, 4 * hidden_size), nn.GELU(), nn.Linear(4 * hidden_size, hidden_size))

    def forward(self, x: torch.Tensor, past_key=None, past_value=None):
        """x (B, S, H) new positions; past_key/past_value (B, heads, P, H/heads) or None -> x, key, value."""
        batch, length, hidden = x.shape
        query, key, value = (
            t.view(batch, length, self.num_heads, hidden // self.num_heads).transpose(1, 2)
            for t in self.qkv(self.attention_norm(x)).chunk(3, dim=-1)
        )
        if past_key is not None:
            key, value = torch.cat([past_key, key], dim=2), torch.cat([past_value, value], dim=2)
        # New position i (absolute P + i) attends to positions <= P + i: a causal mask offset by the cache length.
        past = key.size(2) - length
        allowed = torch.ones(length, key.size(2), dtype=torch.bool, device=x.device).tril(diagonal=past)
        attended = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=allowed)
        x = x + self.attention_output(attended.transpose(1, 2).reshape(batch, length, hidden))
        return x + self.mlp(self.mlp_norm(x)), key, value


class TransformerDecoder(nn.Module):
    """Causal Transformer decoder conditioned on z twice: the projected code W z is a prefix position (a memory
    every token attends to), and z is concatenated to every input embedding before the input projection (i.e.
    W_z z is added to each token's input), as the LSTM decoders feed z at every step. A dropped word keeps z and its
    position.

    The state is the prefix (B, H) before the first step, then the key/value cache: a flat tuple (key_0, value_0,
    key_1, value_1, ...) of (B, heads, P, H/heads) tensors over the P positions seen so far (the prefix included),
    which beam search reorders like the (h, c) pair of the LSTM decoders."""

    def __init__(self, config: SequenceVAEConfig):
        super().__init__()
        hidden = config.decoder_hidden_size
        self.input_projection = nn.Linear(config.embedding_size + config.latent_size, hidden)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, hidden)
        self.blocks = nn.ModuleList(
            CausalSelfAttentionBlock(hidden, config.decoder_attention_heads) for _ in range(config.decoder_layers)
        )
        self.final_norm = nn.LayerNorm(hidden)

    def initial_state(self, prefix: torch.Tensor) -> torch.Tensor:
        return prefix

    def forward(self, embeddings: torch.Tensor, z: torch.Tensor, state):
        """embeddings (B, T, E), z (B, D), state: the prefix (B, H) or the cache -> outputs (B, T, H), cache."""
        x = self.input_projection(with_latent(embeddings, z))
        starting = isinstance(state, torch.Tensor)
        if starting:
            x, state = torch.cat([state.unsqueeze(1), x], dim=1), None
        past_length = 0 if state is None else state[0].size(2)
        if past_length + x.size(1) > self.position_embedding.num_embeddings:
            raise ValueError(
                f"sequence of {past_length + x.size(1)} positions (z prefix included) exceeds "
                f"max_position_embeddings={self.position_embedding.num_embeddings}"
            )
        x = x + self.position_embedding(torch.arange(past_length, past_length + x.size(1), device=x.device))
        cache = []
        for index, block in enumerate(self.blocks):
            past = (None, None) if state is None else state[2 * index : 2 * index + 2]
            x, key, value = block(x, *past)
            cache += [key, value]
        x = self.final_norm(x)
        return (x[:, 1:] if starting else x), tuple(cache)


DECODERS = {"double_lstm": DoubleLSTMDecoder, "lstm": LSTMDecoder, "transformer": TransformerDecoder}


class SequenceVAEPreTrainedModel(PreTrainedModel):
    config_class = SequenceVAEConfig
    base_model_prefix = "sequence_vae"
    main_input_name = "input_ids"
    _is_stateful = True  # recurrent state: no assisted/contrastive decoding

    def _init_weights(self, module):
        if self.config.initialization == "authors":
            self._init_weights_as_authors(module)
            return
        # "xavier": word embeddings N(0, 1), PyTorch's default, so that the encoder's final state depends on x from
        # the first step; LSTM cells as nn.LSTM in transformers' default scheme; the Transformer decoder's linear
        # layers and position embeddings N(0, initializer_range).
        if isinstance(module, nn.Embedding) and module.num_embeddings == self.config.vocab_size:
            init.normal_(module.weight, 0.0, 1.0)
            if module.padding_idx is not None:
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LSTMCell):
            for name, param in module.named_parameters():
                (init.xavier_uniform_ if "weight" in name else init.zeros_)(param)
        else:
            super()._init_weights(module)

    def _init_weights_as_authors(self, module):
        """The AWD authors' code: word embeddings U(-0.1, 0.1), every other weight and bias U(-0.01, 0.01).
        LayerNorms (Transformer decoder only, which the authors did not have) keep their unit scale."""
        if isinstance(module, nn.LayerNorm):
            super()._init_weights(module)
            return
        is_word_embedding = isinstance(module, nn.Embedding) and module.num_embeddings == self.config.vocab_size
        bound = 0.1 if is_word_embedding else 0.01
        for param in module.parameters(recurse=False):
            init.uniform_(param, -bound, bound)
        if is_word_embedding and module.padding_idx is not None:
            init.zeros_(module.weight[module.padding_idx])


class SequenceVAE(SequenceVAEGenerationMixin, SequenceVAEPreTrainedModel):
    """LSTM encoder -> q(z|x) = N(mu, diag sigma^2) -> autoregressive decoder conditioned on z at every step, with
    decoder-input word dropout (none / uniform / adversarial) during training only. Generation from latent codes:
    see `SequenceVAEGenerationMixin` (listed first so that its `post_init`/`save_pretrained` hooks run)."""

    def __init__(self, config: SequenceVAEConfig):
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.encoder = nn.LSTM(config.embedding_size, config.encoder_hidden_size, batch_first=True)
        self.to_posterior = nn.Linear(config.encoder_hidden_size, 2 * config.latent_size)
        # z -> the decoder's starting state: h0 of the LSTM decoders, the prefix position of the Transformer.
        self.latent_to_state = nn.Linear(config.latent_size, config.decoder_hidden_size, bias=False)
        self.decoder = DECODERS[config.decoder_type](config)
        self.decoder_dropout = nn.Dropout(config.decoder_dropout)
        self.lm_head = nn.Linear(config.decoder_hidden_size, config.vocab_size, bias=False)
        self.adversary = None
        if config.word_dropout == "adversarial":
            self.adversary = AdversarialWordDropout(
                config.vocab_size, config.embedding_size, config.adversary_hidden_size, config.pad_token_id
            )
        self.post_init()

    def get_input_embeddings(self):
        return self.embedding

    def set_input_embeddings(self, value):
        self.embedding = value

    def reset_decoder(self) -> list[tuple[str, nn.Parameter]]:
        """Re-initialise the parameters only the decoder uses (z -> state, decoder, output layer; the word embeddings
        are shared with the encoder and kept), for FBP's encoder pretraining. Returns the (name, parameter) pairs."""
        prefixes = ("latent_to_state", "decoder", "lm_head")
        reset = [(f"{prefix}.{name}", param) for prefix in prefixes
                 for name, param in getattr(self, prefix).named_parameters()]
        for _, param in reset:
            param._is_hf_initialized = False  # set by from_pretrained; transformers' init functions skip such tensors
        for prefix in prefixes:
            getattr(self, prefix).apply(self._init_weights)
        return reset

    # ---- the two halves of the VAE ----

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """Posterior q(z|x). input_ids (B, L) -> mean, logvar, each (B, D)."""
        if attention_mask is None:
            attention_mask = input_ids.ne(self.config.pad_token_id)
        lengths = attention_mask.sum(dim=1)
        if bool((lengths == 0).any()):
            raise ValueError("encode() got an empty sequence (attention_mask sums to 0 for some row)")
        packed = pack_padded_sequence(self.embedding(input_ids), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.encoder(packed)
        mean, logvar = self.to_posterior(h[-1]).chunk(2, dim=-1)
        return mean, logvar

    def decode(self, input_ids: torch.Tensor, z: torch.Tensor, state=None, drop_mask: torch.Tensor | None = None):
        """Teacher-forced decoding. input_ids (B, T) decoder inputs, z (B, D); drop_mask (B, T) multiplies the input
        embeddings (a dropped input becomes the zero vector); state: the decoder's (see `DECODERS`), None to start
        from z. Returns logits (B, T, V) and the final state."""
        embeddings = self.embedding(input_ids)
        if drop_mask is not None:
            embeddings = embeddings * (1.0 - drop_mask).unsqueeze(-1)
        if state is None:
            state = self.decoder.initial_state(self.latent_to_state(z))
        hidden, state = self.decoder(embeddings, z, state)
        return self.lm_head(self.decoder_dropout(hidden)), state

    def log_likelihood(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over predicted tokens (words and `<eos>`). input_ids (B, L), z (B, D) -> (B,)."""
        logits, _ = self.decode(input_ids[:, :-1], z)
        return token_log_likelihood(logits, input_ids[:, 1:], attention_mask[:, 1:])

    # ---- word dropout ----

    def word_dropout_mask(self, decoder_inputs: torch.Tensor, eligible: torch.Tensor):
        """Which decoder inputs to drop in training: (B, T) mask and, for AWD, the adversary's output."""
        rate = self.config.word_dropout_rate
        if not self.training or self.config.word_dropout == "none" or rate == 0:
            return torch.zeros(eligible.shape, device=eligible.device), None
        if self.config.word_dropout == "uniform":
            return ((torch.rand(eligible.shape, device=eligible.device) < rate) & eligible).float(), None
        adversary_output = self.adversary(decoder_inputs, eligible, rate)
        return adversary_output.drop_mask, adversary_output

    # ---- forward ----

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
        cache=None,
        **kwargs,
    ) -> SequenceVAEOutput:
        r"""
        Without `z` (training and scoring): encode `input_ids` (B, L) = `<bos> ... <eos>` (right-padded), sample
        z ~ q(z|x), decode with teacher forcing and word dropout, and return the loss terms per sentence.

        With `z` (B, D) (generation): decode `input_ids` (B, T) from decoder state `cache` (or from z when
        None) and return logits and the new state; `generate()` drives this path.
        """
        if z is not None:
            logits, state = self.decode(input_ids, z, state=cache)
            return SequenceVAEOutput(logits=logits, cache=state, latent=z)

        if attention_mask is None:
            attention_mask = input_ids.ne(self.config.pad_token_id).long()
        mean, logvar = self.encode(input_ids, attention_mask)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        kl_per_dimension = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
        kl = kl_per_dimension.sum(dim=-1)

        decoder_inputs, targets, target_mask = input_ids[:, :-1], input_ids[:, 1:], attention_mask[:, 1:].float()
        # Words may be dropped; <bos> (position 0) and padding never are.
        eligible = target_mask.bool()
        eligible[:, 0] = False
        drop_mask, adversary_output = self.word_dropout_mask(decoder_inputs, eligible)

        logits, state = self.decode(decoder_inputs, z, drop_mask=drop_mask)
        reconstruction_nll = -token_log_likelihood(logits, targets, target_mask)
        regularizer = torch.zeros_like(kl)
        if adversary_output is not None:
            regularizer = self.config.adversary_kl_weight * adversary_output.regularizer
        return SequenceVAEOutput(
            loss=(reconstruction_nll + kl + regularizer).mean(),
            reconstruction_nll=reconstruction_nll,
            kl=kl,
            kl_per_dimension=kl_per_dimension,
            adversary_regularizer=regularizer,
            logits=logits,
            drop_mask=drop_mask,
            adversary_scores=getattr(adversary_output, "scores", None),
            adversary_score_mean=getattr(adversary_output, "score_mean", None),
            adversary_score_logvar=getattr(adversary_output, "score_logvar", None),
            posterior_mean=mean,
            posterior_logvar=logvar,
            latent=z,
            cache=state,
        )
