"""Optimisers of the two players: the VAE with the Trainer's `--optim` (SGD lr 1 in the authors' recipe), the
adversary with Adam, as in the AWD authors' code, behind the one optimizer object the Trainer expects."""

from collections import defaultdict

import torch

ADVERSARY_PREFIX = "adversary."


class TwoPlayerOptimizer(torch.optim.Optimizer):
    """One optimizer over both players, each stepped by its own algorithm.

    The players' optimizers share their parameter-group dicts and their state with this one, so the Trainer, its
    LR scheduler, checkpointing (`state_dict` / `load_state_dict` of the base class, covering every group) and
    accelerate see a single ordinary optimizer. `players` maps a name to an optimizer; the groups appear in that
    order, each tagged with its player's name (`group["player"]`).
    """

    def __init__(self, players: dict[str, torch.optim.Optimizer]):
        self.players = players
        groups = []
        for name, optimizer in players.items():
            for group in optimizer.param_groups:
                group["player"] = name
                groups.append(group)
        super().__init__(groups, defaults={})
        self._share_groups_and_state()

    def _share_groups_and_state(self):
        # load_state_dict replaces the group dicts and the state: point the players at the new ones.
        groups = defaultdict(list)
        for group in self.param_groups:
            groups[group["player"]].append(group)
        for name, optimizer in self.players.items():
            optimizer.param_groups = groups[name]
            optimizer.state = self.state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._share_groups_and_state()

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for optimizer in self.players.values():
            optimizer.step()
        return loss


def split_parameters(model) -> tuple[list, list]:
    """(VAE parameters, adversary parameters) of a `SequenceVAE`, trainable ones only."""
    vae, adversary = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (adversary if name.startswith(ADVERSARY_PREFIX) else vae).append(param)
    return vae, adversary


def per_epoch_decay(optimizer: TwoPlayerOptimizer, decay: float, steps_per_epoch: int):
    """LR multiplied by `decay` after every epoch for the VAE's groups (the authors' ExponentialLR(0.96)); the
    adversary's Adam keeps its learning rate."""
    factors = [
        (lambda step: decay ** (step // steps_per_epoch)) if group["player"] == "vae" else (lambda step: 1.0)
        for group in optimizer.param_groups
    ]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)
