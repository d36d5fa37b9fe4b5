"""Optimizers that update parameters in place from their gradients (``torch.optim``'s API)."""
from minigrad.optim import lr_scheduler
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam, AdamW
from minigrad.optim.lamb import LAMB
from minigrad.optim.lars import LARS
from minigrad.optim.layerwise import exclude_bias_and_norm
from minigrad.optim.newton import Newton
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "LARS", "LAMB", "Newton",
           "exclude_bias_and_norm", "lr_scheduler"]
