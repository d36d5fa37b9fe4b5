"""`mpiexec -n 3 python ps_fault.py SCENARIO PID_DIR`: 1 server, 2 workers, and one of them fails.

    worker-raises   worker rank 2 raises at step 3: its exception must end the job
    worker-stuck    worker rank 2 stops answering at step 3: the server's 5 s timeout must name it
    server-stuck    the server never starts serving: the workers' 5 s timeout must name rank 0
    worker-killed   worker rank 2 is killed (SIGKILL) at step 3: the launcher ends the job
    worker-exits    worker rank 2 calls sys.exit(0) at step 3 without Worker.close(): the server's
                    5 s timeout must name it

Every rank writes its process id to PID_DIR first (the test checks none is left).
The server and rank 2 must never print "finished" (rank 1 may, when rank 2 is stuck).
"""
import os
import signal
import sys
import time

import minigrad as mg
from minigrad.distributed import ps
from minigrad.optim import SGD

scenario, pid_dir = sys.argv[1], sys.argv[2]
group = ps.Group(num_servers=1)
with open(os.path.join(pid_dir, f"rank{group.rank}.pid"), "w") as f:
    f.write(str(os.getpid()))
x = mg.zeros(5, requires_grad=True)
if group.is_server:
    if scenario == "server-stuck":
        time.sleep(100)
    ps.ParameterServer(group, [x], lambda p: SGD(p, lr=0.1), mode="async", timeout=5).run()
else:
    worker = ps.Worker(group, [x], timeout=5 if scenario == "server-stuck" else 60)
    for step in range(10):
        if group.rank == 2 and step == 3:
            if scenario == "worker-raises":
                raise RuntimeError("deliberate failure on worker rank 2")
            if scenario == "worker-killed":
                os.kill(os.getpid(), signal.SIGKILL)
            if scenario == "worker-exits":
                sys.exit(0)
            time.sleep(100)
        x.grad = mg.ones(5)
        worker.step()
        time.sleep(0.01)
    worker.close()
print(f"rank {group.rank}: finished", flush=True)      # must never be printed
