"""Fleet scale (issue #16): ``savings`` and ``workload`` on a dask.distributed cluster, same answers as one machine."""
