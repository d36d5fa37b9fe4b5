"""Lesson 08: train the character-level GPT data-parallel and report the run as one JSON line.

    mpiexec -n 2 python lessons/mpi/gpt_train.py --steps 150 --compress qsgd ...

Every argument goes to ``minigrad.examples.train_gpt`` unchanged; that script
is the training loop (micro-batches under ``no_sync``, DDP averaging inside
``loss.backward()``, clipping, AdamW, warm-up + cosine). Rank 0 then prints
the losses, the validation losses, the gradient bytes it sent and its speed.
"""
import json
import sys

import minigrad.distributed as dist
from minigrad.examples import train_gpt

result = train_gpt.main(sys.argv[1:])
if dist.get_rank() == 0:
    print(json.dumps({"train": result["history"]["train"], "val": result["history"]["val"],
                      "val_steps": result["history"]["val_steps"], "bytes_sent": result["bytes_sent"],
                      "tokens_per_second": result["tokens_per_second"], "world_size": result["world_size"]}))
