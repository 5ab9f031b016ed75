"""Configuration of the sequence VAE trained with adversarial word dropout (Miladinović et al., 2022)."""

from transformers import PretrainedConfig

DECODER_TYPES = ("double_lstm", "lstm", "transformer")
WORD_DROPOUT_MODES = ("none", "uniform", "adversarial")


class SequenceVAEConfig(PretrainedConfig):
    r"""
    Sizes and method options of [`SequenceVAE`].

    Args:
        vocab_size: number of word types, special tokens included.
        pad_token_id, unk_token_id, bos_token_id, eos_token_id: special-token ids (those of the word-level tokenizer
            built by `hf_awd.data.build_word_tokenizer`).
        embedding_size: word embedding size, shared by the encoder and the decoder.
        encoder_hidden_size: hidden size of the LSTM encoder of q(z|x).
        decoder_hidden_size: hidden size of the decoder (1024-2048 in the paper).
        latent_size: dimension of z (32 in the paper).
        decoder_type: `"double_lstm"` (paper, Appendix A), `"lstm"` (one LSTM fed [embedding; z], for ablation) or
            `"transformer"` (causal Transformer with z as a prefix position and added to every input embedding).
        decoder_dropout: dropout on the decoder state before the output layer.
        decoder_layers, decoder_attention_heads, max_position_embeddings: Transformer decoder only: blocks, heads
            (must divide decoder_hidden_size) and positions (the z prefix, `<bos>` and the words).
        initializer_range: std of the Transformer decoder's linear layers and position embeddings.
        word_dropout: decoder-input dropout mode, `"none"`, `"uniform"` (each word dropped with probability R) or
            `"adversarial"` (AWD: a learned adversary drops exactly round(R * T) words of each sentence).
        word_dropout_rate: R, in [0, 1).
        adversary_hidden_size: hidden size of the adversary's LSTM.
        adversary_kl_weight: lambda, weight of sum_i KL(N(mu_i, sigma_i) || N(0, 1)) on the adversary's scores.
    """

    model_type = "sequence_vae"

    def __init__(
        self,
        vocab_size: int = 10000,
        pad_token_id: int = 0,
        unk_token_id: int = 1,
        bos_token_id: int = 2,
        eos_token_id: int = 3,
        embedding_size: int = 256,
        encoder_hidden_size: int = 512,
        decoder_hidden_size: int = 1024,
        latent_size: int = 32,
        decoder_type: str = "double_lstm",
        decoder_dropout: float = 0.5,
        decoder_layers: int = 2,
        decoder_attention_heads: int = 4,
        max_position_embeddings: int = 256,
        initializer_range: float = 0.02,
        word_dropout: str = "adversarial",
        word_dropout_rate: float = 0.3,
        adversary_hidden_size: int = 256,
        adversary_kl_weight: float = 1.0,
        tie_word_embeddings: bool = False,
        use_cache: bool = True,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.unk_token_id = unk_token_id
        self.embedding_size = embedding_size
        self.encoder_hidden_size = encoder_hidden_size
        self.decoder_hidden_size = decoder_hidden_size
        self.latent_size = latent_size
        self.decoder_type = decoder_type
        self.decoder_dropout = decoder_dropout
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.word_dropout = word_dropout
        self.word_dropout_rate = word_dropout_rate
        self.adversary_hidden_size = adversary_hidden_size
        self.adversary_kl_weight = adversary_kl_weight
        self.use_cache = use_cache
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )
        self.validate_method_options()

    def validate_method_options(self):
        """Fail at config time with the offending name and value, not deep inside torch."""
        sizes = ("vocab_size", "embedding_size", "encoder_hidden_size", "decoder_hidden_size", "latent_size",
                 "adversary_hidden_size", "decoder_layers", "decoder_attention_heads", "max_position_embeddings")
        for name in sizes:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.decoder_type not in DECODER_TYPES:
            raise ValueError(f"decoder_type must be one of {DECODER_TYPES}, got {self.decoder_type!r}")
        if self.decoder_type == "transformer" and self.decoder_hidden_size % self.decoder_attention_heads:
            raise ValueError(f"decoder_attention_heads={self.decoder_attention_heads} must divide "
                             f"decoder_hidden_size={self.decoder_hidden_size}")
        if self.word_dropout not in WORD_DROPOUT_MODES:
            raise ValueError(f"word_dropout must be one of {WORD_DROPOUT_MODES}, got {self.word_dropout!r}")
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
