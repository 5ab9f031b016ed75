"""Sequence VAE with an LSTM encoder, a Double-LSTM decoder and adversarial word dropout (Miladinović et al., 2022).

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
from .generation_sequence_vae import SequenceVAEGenerationMixin


@dataclass
class SequenceVAEOutput(ModelOutput):
    r"""
    loss: scalar, mean over the batch of reconstruction_nll + kl_weight * kl + adversary_regularizer, where the KL term
        is thresholded per dimension when `free_bits` > 0 (training objective only; `kl` is always the true KL).
    reconstruction_nll: (B,) -log p(x|z) summed over the predicted tokens (end of sentence included).
    kl: (B,) KL(q(z|x) || N(0, I)).
    adversary_regularizer: (B,) lambda * sum_i KL(N(mu_i, sigma_i^2) || N(0, 1)); zeros unless adversarial training.
    logits: (B, T, V) next-token logits.
    drop_mask: (B, T) 1.0 where the decoder input was dropped (always zeros in eval mode).
    adversary_scores: (B, T) sampled scores s_i (adversarial training only).
    posterior_mean, posterior_logvar, latent: (B, D) q(z|x) and the z that was decoded.
    cache: decoder state (h, c), each (B, H), for step-by-step generation.
    """

    loss: torch.FloatTensor | None = None
    reconstruction_nll: torch.FloatTensor | None = None
    kl: torch.FloatTensor | None = None
    adversary_regularizer: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    drop_mask: torch.FloatTensor | None = None
    adversary_scores: torch.FloatTensor | None = None
    posterior_mean: torch.FloatTensor | None = None
    posterior_logvar: torch.FloatTensor | None = None
    latent: torch.FloatTensor | None = None
    cache: tuple[torch.FloatTensor, torch.FloatTensor] | None = None


def token_log_likelihood(logits: torch.Tensor, targets: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Sum of log p(target_t) over unmasked steps. logits (B, T, V), targets/target_mask (B, T) -> (B,)."""
    log_probs = logits.log_softmax(dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (log_probs * target_mask).sum(dim=1)


class DoubleLSTMDecoder(nn.Module):
    """Appendix A: per step, a first LSTM cell reads z and the previous state, then a second cell reads
    [embedding; z] starting from the first cell's state. Both branches give z a skip connection to the output."""

    def __init__(self, embedding_size: int, latent_size: int, hidden_size: int):
        super().__init__()
        self.predict_cell = nn.LSTMCell(latent_size, hidden_size)
        self.update_cell = nn.LSTMCell(embedding_size + latent_size, hidden_size)

    def forward(self, embeddings: torch.Tensor, z: torch.Tensor, state):
        """embeddings (B, T, E), z (B, D), state (h, c) each (B, H) -> outputs (B, T, H), state."""
        inputs = torch.cat([embeddings, z.unsqueeze(1).expand(-1, embeddings.size(1), -1)], dim=-1)
        outputs = []
        for step_input in inputs.unbind(dim=1):
            state = self.update_cell(step_input, self.predict_cell(z, state))
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state


class LSTMDecoder(nn.Module):
    """Ablation: a single LSTM fed [embedding; z] at every step (cuDNN/fused kernels over the whole sequence)."""

    def __init__(self, embedding_size: int, latent_size: int, hidden_size: int):
        super().__init__()
        self.lstm = nn.LSTM(embedding_size + latent_size, hidden_size, batch_first=True)

    def forward(self, embeddings: torch.Tensor, z: torch.Tensor, state):
        inputs = torch.cat([embeddings, z.unsqueeze(1).expand(-1, embeddings.size(1), -1)], dim=-1)
        outputs, (h, c) = self.lstm(inputs, (state[0].unsqueeze(0).contiguous(), state[1].unsqueeze(0).contiguous()))
        return outputs, (h.squeeze(0), c.squeeze(0))


DECODERS = {"double_lstm": DoubleLSTMDecoder, "lstm": LSTMDecoder}


class SequenceVAEPreTrainedModel(PreTrainedModel):
    config_class = SequenceVAEConfig
    base_model_prefix = "sequence_vae"
    main_input_name = "input_ids"
    _is_stateful = True  # recurrent state: no assisted/contrastive decoding

    def _init_weights(self, module):
        # Embeddings N(0, 1), PyTorch's default: with the small inits of transformers (std 0.02) or of the authors'
        # code (U(-0.1, 0.1)) the LSTM encoder's final state barely depends on x, z starts as pure noise, the
        # decoder learns to ignore it and the posterior collapses within a few hundred steps.
        # LSTM cells are initialised like nn.LSTM in the default scheme.
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, 0.0, 1.0)
            if module.padding_idx is not None:
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LSTMCell):
            for name, param in module.named_parameters():
                (init.xavier_uniform_ if "weight" in name else init.zeros_)(param)
        else:
            super()._init_weights(module)


class SequenceVAE(SequenceVAEGenerationMixin, SequenceVAEPreTrainedModel):
    """LSTM encoder -> q(z|x) = N(mu, diag sigma^2) -> autoregressive decoder conditioned on z at every step, with
    decoder-input word dropout (none / uniform / adversarial) during training only. Generation from latent codes:
    see `SequenceVAEGenerationMixin` (listed first so that its `post_init`/`save_pretrained` hooks run)."""

    def __init__(self, config: SequenceVAEConfig):
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.encoder = nn.LSTM(config.embedding_size, config.encoder_hidden_size, batch_first=True)
        self.to_posterior = nn.Linear(config.encoder_hidden_size, 2 * config.latent_size)
        self.latent_to_state = nn.Linear(config.latent_size, config.decoder_hidden_size, bias=False)
        decoder_class = DECODERS[config.decoder_type]
        self.decoder = decoder_class(config.embedding_size, config.latent_size, config.decoder_hidden_size)
        self.decoder_dropout = nn.Dropout(config.decoder_dropout)
        self.lm_head = nn.Linear(config.decoder_hidden_size, config.vocab_size, bias=False)
        self.adversary = None
        if config.word_dropout == "adversarial":
            self.adversary = AdversarialWordDropout(
                config.vocab_size, config.embedding_size, config.adversary_hidden_size, config.pad_token_id
            )
        # Training-objective knobs set by AWDTrainer: the annealed KL weight and the free-bits threshold (nats per
        # latent dimension, 0 = off). Evaluation reads `kl` directly and is unaffected.
        self.kl_weight = 1.0
        self.free_bits = 0.0
        self.post_init()

    def get_input_embeddings(self):
        return self.embedding

    def set_input_embeddings(self, value):
        self.embedding = value

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

    def initial_state(self, z: torch.Tensor):
        """Decoder state from z: h0 = W z (no bias), c0 = 0, as the authors' code."""
        h = self.latent_to_state(z)
        return h, torch.zeros_like(h)

    def decode(self, input_ids: torch.Tensor, z: torch.Tensor, state=None, drop_mask: torch.Tensor | None = None):
        """Teacher-forced decoding. input_ids (B, T) decoder inputs, z (B, D); drop_mask (B, T) multiplies the input
        embeddings (a dropped input becomes the zero vector). Returns logits (B, T, V) and the final state."""
        embeddings = self.embedding(input_ids)
        if drop_mask is not None:
            embeddings = embeddings * (1.0 - drop_mask).unsqueeze(-1)
        if state is None:
            state = self.initial_state(z)
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
        kl_term = kl.mean()
        if self.training and self.free_bits > 0:
            # KL thresholding (Kingma et al., 2016; Li et al., 2019): dimensions whose batch-mean KL is below the
            # threshold get no KL gradient, so the optimiser cannot switch them off to escape the penalty.
            kl_term = kl_per_dimension.mean(dim=0).clamp(min=self.free_bits).sum()
        loss = reconstruction_nll.mean() + self.kl_weight * kl_term + regularizer.mean()
        return SequenceVAEOutput(
            loss=loss,
            reconstruction_nll=reconstruction_nll,
            kl=kl,
            adversary_regularizer=regularizer,
            logits=logits,
            drop_mask=drop_mask,
            adversary_scores=adversary_output.scores if adversary_output is not None else None,
            posterior_mean=mean,
            posterior_logvar=logvar,
            latent=z,
            cache=state,
        )
