"""Workloads: the images a Kubernetes pod, an ECS task or a compose project runs together."""
