"""A model with a layer that forward never uses: DDP's find_unused_parameters case (faults.py, tests)."""
from minigrad import nn


class TwoHeads(nn.Module):
    def __init__(self, in_features=4):
        super().__init__()
        self.used, self.unused = nn.Linear(in_features, 2), nn.Linear(in_features, 2)

    def forward(self, x):
        return self.used(x)
