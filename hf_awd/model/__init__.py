"""The sequence VAE and its adversary, registered with the Auto classes.

`register_for_auto_class` makes `save_pretrained` copy this folder's modelling code next to the weights and write
`auto_map` into config.json, so `AutoModel.from_pretrained(path, trust_remote_code=True)` works without hf_awd.
"""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

from .configuration_sequence_vae import SequenceVAEConfig
from .modeling_sequence_vae import SequenceVAE, SequenceVAEOutput
from .loading import load_checkpoint

AutoConfig.register(SequenceVAEConfig.model_type, SequenceVAEConfig)
AutoModel.register(SequenceVAEConfig, SequenceVAE)
AutoModelForCausalLM.register(SequenceVAEConfig, SequenceVAE)
SequenceVAEConfig.register_for_auto_class()
SequenceVAE.register_for_auto_class("AutoModel")

__all__ = ["SequenceVAE", "SequenceVAEConfig", "SequenceVAEOutput", "load_checkpoint"]
