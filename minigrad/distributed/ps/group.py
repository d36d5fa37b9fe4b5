"""Who is a server and who is a worker: ``Group(num_servers)``."""
from minigrad.distributed import comm as world_comm
from minigrad.distributed.ps import protocol


class Group:
    """Ranks 0..num_servers-1 serve, the others work; all talk over a private copy of COMM_WORLD.

    Every process calls ``Group(num_servers)`` (a collective: it duplicates and
    splits the communicator). Attributes: ``comm`` (the copy), ``rank``,
    ``size``, ``servers`` and ``workers`` (lists of ranks), ``is_server``,
    ``server_index`` (0..S-1 on a server), and ``local``: a communicator of
    the processes with the same role (the workers' own all-reduce, say).
    ``barrier()`` waits for all ranks with a deadline, sleeping while it polls.

    ``minigrad.distributed`` joins MPI here, which also makes an uncaught
    exception on any rank end the whole job (see ``comm.py``).
    """

    def __init__(self, num_servers=1):
        world = world_comm.world()
        size = 1 if world is None else world.Get_size()
        if not (isinstance(num_servers, int) and 1 <= num_servers < size):
            raise ValueError(
                f"parameter server: need 1 <= num_servers < number of processes, got num_servers="
                f"{num_servers!r} with {size} process(es); launch with e.g. "
                f"`mpiexec -n {max(num_servers, 1) + 2} python ...` (one worker at least)")
        self.comm = world.Dup()
        self.rank, self.size = self.comm.Get_rank(), size
        self.servers = list(range(num_servers))
        self.workers = list(range(num_servers, size))
        self.is_server = self.rank < num_servers
        self.server_index = self.rank if self.is_server else None
        self.local = self.comm.Split(0 if self.is_server else 1, self.rank)

    @property
    def num_servers(self):
        return len(self.servers)

    @property
    def num_workers(self):
        return len(self.workers)

    def barrier(self, timeout=None):
        """Wait until every rank of the group is here, sleeping between polls, within a deadline."""
        timeout = protocol.default_timeout() if timeout is None else float(timeout)
        try:
            protocol.wait_for([(self.comm.Ibarrier(), None)], timeout,
                              f"rank {self.rank}, barrier of {self.size} ranks")
        except protocol.ParameterServerTimeout as err:
            protocol.abort(self.comm, err)
