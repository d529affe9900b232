"""Detached containers: the C monitor that outlives Python (:mod:`.monitor`) and the logs
it writes (:mod:`.logs`)."""
