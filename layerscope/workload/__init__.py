"""Workloads (issue #15): what a Kubernetes pod, an ECS task or a compose project pulls and stores."""
