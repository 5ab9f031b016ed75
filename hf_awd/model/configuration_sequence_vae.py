"""Configuration of the sequence VAE trained with adversarial word dropout (Miladinović et al., 2022).

Written as a transformers v5 dataclass config: every option is a field with its default and help text, so the
training script's model options (`hf_awd.training.ModelArguments`) are derived from these fields instead of a copy.
"""

from dataclasses import field

from transformers import PretrainedConfig

DECODER_TYPES = ("double_lstm", "lstm", "transformer")
WORD_DROPOUT_MODES = ("none", "uniform", "adversarial")
INITIALIZATIONS = ("xavier", "authors")


def option(default, help: str):
    """A config field with the help text that `--help` of scripts/train.py shows."""
    return field(default=default, metadata={"help": help})


class SequenceVAEConfig(PretrainedConfig):
    r"""
    Sizes and method options of [`SequenceVAE`]. The defaults are the small CPU quickstart model; the paper uses
    embedding 512, encoder 1024, decoder 1024-2048 (`hf_awd.experiments` has both as presets).

    Token ids are those of the word-level tokenizer built by `hf_awd.data.build_word_tokenizer`. Every field's
    meaning is in its help text (`dataclasses.fields(SequenceVAEConfig)`, or `python scripts/train.py --help`).
    """

    model_type = "sequence_vae"

    vocab_size: int = option(10000, "Number of word types, special tokens included.")
    pad_token_id: int = 0
    unk_token_id: int = 1
    bos_token_id: int = 2
    eos_token_id: int = 3
    embedding_size: int = option(128, "Word embedding size, shared by the encoder and the decoder.")
    encoder_hidden_size: int = option(256, "Hidden size of the LSTM encoder of q(z|x).")
    decoder_hidden_size: int = option(256, "Hidden size of the decoder (1024-2048 in the paper).")
    latent_size: int = option(32, "Dimension of z (32 in the paper).")
    decoder_type: str = option(
        "double_lstm",
        "double_lstm (paper, Appendix A), lstm (one LSTM fed [embedding; z], an ablation) or transformer (causal "
        "Transformer with z as a prefix position and added to every input embedding).",
    )
    decoder_dropout: float = option(0.5, "Dropout on the decoder state before the output layer.")
    decoder_layers: int = option(2, "Transformer decoder: number of blocks.")
    decoder_attention_heads: int = option(4, "Transformer decoder: attention heads (must divide the decoder size).")
    max_position_embeddings: int = option(256, "Transformer decoder: positions (the z prefix, <bos> and the words).")
    initializer_range: float = option(0.02, "Std of the Transformer decoder's linear layers and positions.")
    initialization: str = option(
        "xavier",
        "Weight initialisation: xavier (embeddings N(0, 1), LSTM weights Xavier-uniform, biases 0) or authors "
        "(the AWD authors' code: every weight U(-0.01, 0.01), embeddings U(-0.1, 0.1)).",
    )
    word_dropout: str = option(
        "adversarial",
        "Decoder-input dropout in training: none, uniform (each word dropped with probability R) or adversarial "
        "(AWD: a learned adversary drops exactly round(R * T) words of each sentence).",
    )
    word_dropout_rate: float = option(0.3, "R, the fraction of words dropped, in [0, 1).")
    adversary_hidden_size: int = option(256, "Hidden size of the adversary's LSTM.")
    adversary_kl_weight: float = option(
        1.0, "lambda, weight of the adversary's regulariser sum_i KL(N(mu_i, sigma_i^2) || N(0, 1)).")
    tie_word_embeddings: bool = False
    use_cache: bool = True

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self.validate_method_options()

    def validate_method_options(self):
        """Fail at config time with the offending name and value, not deep inside torch."""
        sizes = ("vocab_size", "embedding_size", "encoder_hidden_size", "decoder_hidden_size", "latent_size",
                 "adversary_hidden_size", "decoder_layers", "decoder_attention_heads", "max_position_embeddings")
        for name in sizes:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, allowed in (("decoder_type", DECODER_TYPES), ("word_dropout", WORD_DROPOUT_MODES),
                              ("initialization", INITIALIZATIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.decoder_type == "transformer" and self.decoder_hidden_size % self.decoder_attention_heads:
            raise ValueError(f"decoder_attention_heads={self.decoder_attention_heads} must divide "
                             f"decoder_hidden_size={self.decoder_hidden_size}")
        if not 0.0 <= self.word_dropout_rate < 1.0:
            raise ValueError(f"word_dropout_rate must be in [0, 1), got {self.word_dropout_rate!r}")
        if not 0.0 <= self.decoder_dropout < 1.0:
            raise ValueError(f"decoder_dropout must be in [0, 1), got {self.decoder_dropout!r}")
        if self.adversary_kl_weight < 0:
            raise ValueError(f"adversary_kl_weight must be >= 0, got {self.adversary_kl_weight!r}")
        for name in ("pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < self.vocab_size:
                raise ValueError(f"{name} must be an id in [0, vocab_size={self.vocab_size}), got {value!r}")
