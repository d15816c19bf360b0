"""Managers: the server's only callers of ``rnnlab.tasks`` and ``rnnlab.viz``; routers stay thin."""
